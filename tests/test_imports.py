"""The package's import graph has no cycle, and each bottom-layer helper exists once.

The graph is read from the source (``ast``), not by importing, so lazy imports inside
functions count too: a cycle hidden behind a function-level import is still a cycle.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Dict, List, Set

import pytest

PKG = Path(__file__).resolve().parent.parent / "espnet_spire"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> Dict[str, Path]:
    return {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _resolve(name: str, modules: Dict[str, Path]) -> str:
    """The module an imported name lives in (``a.b.c`` -> ``a.b`` when ``c`` is not a module)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name


def import_graph() -> Dict[str, Set[str]]:
    """``{module: modules of espnet_spire it imports}``, package ``__init__`` edges excluded
    when they are only the path to a submodule."""
    modules = _modules()
    graph: Dict[str, Set[str]] = {m: set() for m in modules}
    for mod, path in modules.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: List[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{a.name}" for a in node.names] + [base]
            for t in targets:
                if not t.startswith("espnet_spire"):
                    continue
                dep = _resolve(t, modules)
                if dep and dep != mod and not (modules[dep].name == "__init__.py" and t != dep):
                    graph[mod].add(dep)
    return graph


def find_cycle(graph: Dict[str, Set[str]]) -> List[str]:
    """One cycle as a list of modules (empty when the graph is acyclic)."""
    state: Dict[str, int] = {}
    stack: List[str] = []

    def visit(m: str) -> List[str]:
        state[m] = 1
        stack.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d not in state:
                found = visit(d)
                if found:
                    return found
        stack.pop()
        state[m] = 2
        return []

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return []


def test_find_cycle_reports_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle():
    graph = import_graph()
    assert "espnet_spire.units.extractors" in graph  # the graph really covers the package
    assert "espnet_spire.units.features" in graph["espnet_spire.units.hf_ssl"]
    cycle = find_cycle(graph)
    assert not cycle, "import cycle: " + " -> ".join(cycle)


def test_common_imports_nothing_above_it():
    graph = import_graph()
    for mod, deps in graph.items():
        if mod.startswith("espnet_spire.common"):
            above = sorted(d for d in deps if not d.startswith("espnet_spire.common"))
            assert not above, f"{mod} imports {above}: common/ must stay the bottom layer"


def _occurrences(pattern: str) -> List[str]:
    rx = re.compile(pattern, re.M)
    return sorted(
        str(p.relative_to(PKG.parent)) for p in PKG.rglob("*.py") if rx.search(p.read_text(encoding="utf-8"))
    )


@pytest.mark.parametrize(
    "pattern, home",
    [
        (r"^\s*def str2bool\b", []),  # ESPnet's, re-exported by common/cli.py
        (r"^\s*def \w*sha256\w*\(", ["espnet_spire/common/hashing.py"]),
        (r"^\s*def _?atomic_(write\w*|open|path)\(", ["espnet_spire/common/fileio.py"]),
        (r"^\s*def (read|write)_json\(", ["espnet_spire/common/fileio.py"]),
        (r"^\s*def write_lines\(", ["espnet_spire/common/fileio.py"]),
        (r"^DEFAULT_MAX_FAILED_RATIO\s*=", ["espnet_spire/common/jobs.py"]),
        (r"^MIN_SAMPLES\s*=", ["espnet_spire/common/jobs.py"]),
        (r"^\s*def (mark_done|is_done|read_done|clear_done)\(", ["espnet_spire/common/jobs.py"]),
        (r"^\s*def read_wav_scp\(", ["espnet_spire/audio/wav_scp.py"]),
        (r"^\s*def (read_kaldi_dict|write_kaldi_file)\(", ["espnet_spire/common/kaldi_dir.py"]),
        (r"^\s*def (setup_logging|parse_with_config|seed_everything)\(", ["espnet_spire/common/cli.py"]),
        (r"^\s*def progress\(", ["espnet_spire/common/jobs.py"]),
        (r"hashlib\.sha256\(\)", ["espnet_spire/common/hashing.py", "espnet_spire/units/provenance.py"]),
    ],
)
def test_each_helper_exists_once(pattern, home):
    assert _occurrences(pattern) == home


def test_str2bool_is_espnets():
    from espnet2.utils.types import str2bool

    from espnet_spire.common import cli

    assert cli.str2bool is str2bool


def test_atomic_writes_go_through_fileio():
    """``os.replace`` (the rename of an atomic write) is only called by common/fileio.py and
    by the directory swaps listed here, which replace whole directories, not files."""
    allowed = {"espnet_spire/common/fileio.py", "espnet_spire/train/export.py"}
    assert set(_occurrences(r"os\.replace\(|\.replace\(\s*(marker_path|path|f)\s*\)")) <= allowed
