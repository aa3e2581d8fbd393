"""Tower-style CPT text (monolingual and parallel) as the dirs stage 7 reads (``--mono_set``, ``--mt_train_set``).

Tower's own CPT mix is not released, so this reads the plain formats such text comes in
(``--corpus_dir`` holds ``mono/`` and/or ``parallel/``):

* ``mono/<name>.<lang>``, ``<name>.<lang>.txt`` or ``<lang>.txt``: one sentence or document a line;
  ``mono/<name>.<lang>.jsonl``: one ``{"text": ...}`` object a line;
* ``parallel/<name>.<l1>`` + ``parallel/<name>.<l2>`` (more languages allowed): line-aligned plain
  text, as OPUS's Moses files (``Europarl.de-en.de`` / ``Europarl.de-en.en``);
  ``parallel/<name>.<src>-<tgt>.jsonl``: one ``{"source": ..., "target": ...}`` object a line.

``<lang>`` is an ESPnet-ST code (en de fr es it pt nl ru zh ko, or another of
:data:`espnet_spire.lm.languages.LANG_NAMES`); other files are ignored with a warning.
Outputs: ``data/<name>_mono/text.tc.<lang>`` (each language its own ids ``<file>-NNNNNNNN``) and
``data/<name>_mt/text.tc.<lang>`` (ids ``<corpus>-NNNNNNNN`` shared by the languages of a corpus, so
several bilingual corpora live in one dir; stage 7 pairs ``text.tc.en`` with each language by id).
Line breaks inside a JSON document become spaces (one document a line). Empty lines, non-JSON
lines and rows with an empty side are listed in ``skipped``.
"""

from __future__ import annotations

import argparse
import glob
import logging
import os
import re
from collections import defaultdict
from typing import Dict, List, Optional, Tuple

from espnet_spire.common.fileio import iter_json_lines, read_lines
from espnet_spire.corpora.datadir import not_json_reason, write_text_dir
from espnet_spire.corpora.registry import CORPORA, Corpus, Prepared
from espnet_spire.lm.languages import LANG_NAMES

logger = logging.getLogger(__name__)

Row = Tuple[str, Dict[str, str]]
Skip = Tuple[str, str]
_PAIR_RE = re.compile(r"^(?P<name>.+)\.(?P<src>[a-z]{2,3})-(?P<tgt>[a-z]{2,3})\.jsonl$")


def _key(name: str) -> str:
    """A file or corpus name usable inside Kaldi ids (no whitespace)."""
    return re.sub(r"\s+", "_", name)


def split_lang(filename: str) -> Optional[Tuple[str, str, str]]:
    """``(name, lang, "txt" | "jsonl")`` from ``<name>.<lang>[.txt|.jsonl]``; None when no known language."""
    base, fmt = filename, "txt"
    for ext, kind in ((".jsonl", "jsonl"), (".txt", "txt")):
        if base.endswith(ext):
            base, fmt = base[: -len(ext)], kind
    name, _, lang = base.rpartition(".")
    if lang not in LANG_NAMES:
        return None
    return name or "text", lang, fmt


def mono_rows(mono_dir: str, skipped: List[Skip]) -> Tuple[List[Row], List[str]]:
    """Monolingual rows (one language each) of every file in ``mono_dir``, and the languages seen."""
    rows: List[Row] = []
    langs = set()
    for path in sorted(glob.glob(os.path.join(mono_dir, "*"))):
        parsed = split_lang(os.path.basename(path))
        if parsed is None:
            logger.warning("%s: not <name>.<lang>[.txt|.jsonl] with a known language, ignored", path)
            continue
        name, lang, fmt = parsed
        langs.add(lang)
        prefix = f"{_key(name)}.{lang}"
        if fmt == "jsonl":
            for lineno, obj, error in iter_json_lines(path):
                key = f"{prefix}-{lineno:08d}"
                text = obj.get("text") if isinstance(obj, dict) else None
                if not isinstance(text, str):
                    skipped.append((key, not_json_reason(error) if error else "no_text_field"))
                    continue
                rows.append((key, {lang: text}))
        else:
            rows += [(f"{prefix}-{i:08d}", {lang: line}) for i, line in enumerate(read_lines(path), start=1)]
    return rows, sorted(langs)


def _plain_parallel(parallel_dir: str) -> Dict[str, Dict[str, str]]:
    """``{corpus name: {lang: path}}`` of plain-text files grouped by their name without the language."""
    groups: Dict[str, Dict[str, str]] = defaultdict(dict)
    for path in sorted(glob.glob(os.path.join(parallel_dir, "*"))):
        if path.endswith(".jsonl"):
            continue
        parsed = split_lang(os.path.basename(path))
        if parsed is None:
            logger.warning("%s: not <name>.<lang>[.txt] with a known language, ignored", path)
            continue
        groups[parsed[0]][parsed[1]] = path
    return groups


def parallel_rows(parallel_dir: str, skipped: List[Skip]) -> Tuple[List[Row], List[str]]:
    """Aligned rows of every corpus in ``parallel_dir``, and the languages seen."""
    rows: List[Row] = []
    langs = set()
    for name, files in sorted(_plain_parallel(parallel_dir).items()):
        if len(files) < 2:
            raise ValueError(f"{parallel_dir}: parallel corpus {name!r} has one language only "
                             f"({' '.join(files.values())}); put monolingual text in mono/")
        columns = {lang: read_lines(path) for lang, path in files.items()}
        sizes = {lang: len(lines) for lang, lines in columns.items()}
        if len(set(sizes.values())) != 1:
            raise ValueError(f"{parallel_dir}: the files of {name!r} differ in line count (not aligned): {sizes}")
        langs.update(files)
        n = next(iter(sizes.values()))
        rows += [(f"{_key(name)}-{i + 1:08d}", {lang: columns[lang][i] for lang in files}) for i in range(n)]
    for path in sorted(glob.glob(os.path.join(parallel_dir, "*.jsonl"))):
        m = _PAIR_RE.match(os.path.basename(path))
        if not m or m["src"] not in LANG_NAMES or m["tgt"] not in LANG_NAMES:
            logger.warning("%s: not <name>.<src>-<tgt>.jsonl with known languages, ignored", path)
            continue
        src, tgt = m["src"], m["tgt"]
        langs.update((src, tgt))
        for lineno, obj, error in iter_json_lines(path):
            key = f"{_key(m['name'])}.{src}-{tgt}-{lineno:08d}"
            if not isinstance(obj, dict) or not all(isinstance(obj.get(f), str) for f in ("source", "target")):
                skipped.append((key, not_json_reason(error) if error else "no_source_or_target"))
                continue
            rows.append((key, {src: obj["source"], tgt: obj["target"]}))
    return rows, sorted(langs)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", default="tower_cpt", help="data dirs are <name>_mono and <name>_mt")


def prepare(args: argparse.Namespace) -> Prepared:
    out: Prepared = {}
    parts = {"mono": (mono_rows, 1, "cpt_text_mono"), "parallel": (parallel_rows, 2, "cpt_text_parallel")}
    for sub, (reader, min_langs, role) in parts.items():
        src_dir = os.path.join(args.corpus_dir, sub)
        if not os.path.isdir(src_dir):
            continue
        skipped: List[Skip] = []
        rows, langs = reader(src_dir, skipped)
        path = os.path.join(args.data_root, f"{args.name}_{'mono' if sub == 'mono' else 'mt'}")
        facts = {"corpus": "tower_cpt_text", "part": sub, "role": role,
                 "source_dir": os.path.basename(os.path.normpath(args.corpus_dir))}
        out[path] = write_text_dir(path, rows, langs, facts, skipped=skipped, min_langs=min_langs)
    if not out:
        raise FileNotFoundError(f"no mono/ or parallel/ folder under {args.corpus_dir}")
    return out


CORPORA.register("tower_cpt_text")(Corpus(
    name="tower_cpt_text",
    layout=("Tower-style CPT text, monolingual and parallel, for stage 7. Files under mono/ "
            "(<name>.<lang>[.txt] one sentence/document a line, or "
            "<name>.<lang>.jsonl with a text field) and parallel/ (line-aligned <name>.<l1> + <name>.<l2>, as OPUS "
            "Moses files, or <name>.<src>-<tgt>.jsonl with source/target fields). Writes data/<name>_mono "
            "(--mono_set) and data/<name>_mt (--mt_train_set) with text.tc.<lang>."),
    add_arguments=add_arguments,
    prepare=prepare,
))
