"""spire.sh as a user drives it: help, option errors and ESPnet-style stage gating."""

import re
import subprocess
from pathlib import Path

import pytest

RECIPE = Path(__file__).resolve().parents[1] / "egs2/spire/spire1"


def run(*args, cwd=RECIPE):
    return subprocess.run(["./run.sh", *args], cwd=cwd, capture_output=True, text=True)


def stages_that_would_run(out: str):
    return [int(n) for n in re.findall(r"Stage (\d+): would run", out)]


def test_help_lists_every_stage():
    out = run("--help")
    assert out.returncode == 0
    for n in range(1, 16):
        assert re.search(rf"^\s*{n}\s+\S", out.stdout, re.M), f"stage {n} missing from --help"


def test_unknown_option_is_an_error():
    out = run("--no_such_option", "1")
    assert out.returncode != 0
    assert "unknown option --no_such_option" in out.stderr


def test_positional_arguments_are_rejected():
    out = run("stray")
    assert out.returncode != 0


@pytest.mark.parametrize("args,expected", [
    (["--stage", "2", "--stop_stage", "6"], [2, 3, 4, 5, 6]),
    (["--stage", "2", "--stop_stage", "6", "--skip_stages", "4 5"], [2, 3, 6]),
    (["--stage", "2", "--stop-stage", "6", "--skip-stages", "3,6"], [2, 4, 5]),
    (["--stage", "13"], [13, 14]),                       # 15 (upload) skipped by default
    (["--stage", "13", "--skip_upload", "false"], [13, 14, 15]),
    (["--stage", "5", "--stop_stage", "4"], []),
])
def test_stage_gating(args, expected):
    out = run("--dry_run", "true", *args)
    assert out.returncode == 0, out.stderr
    assert stages_that_would_run(out.stderr) == expected


def test_skipped_stages_are_logged():
    out = run("--dry_run", "true", "--stage", "3", "--stop_stage", "4", "--skip_stages", "4")
    assert "Stage 4: skipped" in out.stderr


def test_boolean_options_reject_other_values():
    out = run("--dry_run", "maybe")
    assert out.returncode != 0


def _conf_vars(path: Path):
    return {m.group(1) for m in re.finditer(r"^([a-z_]+)=", path.read_text(), re.M)}


def test_full_scale_conf_resets_every_demo_setting(tmp_path):
    """run.sh reads conf/demo.conf first: conf/spire.conf must override each demo value it could
    inherit (toy-base settings are unused once --base_model is a real model)."""
    demo = _conf_vars(RECIPE / "conf/demo.conf")
    full = _conf_vars(RECIPE / "conf/spire.conf")
    inherited = {v for v in demo - full if not v.startswith("toy_base_")}
    assert not inherited, f"conf/spire.conf does not reset {sorted(inherited)}"
    out = run("--config", "conf/spire.conf", "--dry_run", "true", "--expdir", str(tmp_path / "exp"))
    assert out.returncode == 0, out.stderr
    assert stages_that_would_run(out.stderr) == list(range(1, 15))
