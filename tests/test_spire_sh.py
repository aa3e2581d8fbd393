"""spire.sh (the template) as a user drives it through a recipe's run.sh: help, option errors,
ESPnet-style stage gating, and the split between the paper's defaults and the demo's overlay."""

import re
import subprocess
from pathlib import Path

import pytest

from recipe_paths import DEMO, PAPER, TEMPLATE

RECIPE = DEMO


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
    assert "Error: unexpected positional arguments: stray" in out.stderr


@pytest.mark.parametrize("args,expected", [
    (["--stage", "2", "--stop_stage", "6"], [2, 3, 4, 5, 6]),
    (["--stage", "2", "--stop_stage", "6", "--skip_stages", "4 5"], [2, 3, 6]),
    (["--stage", "2", "--stop-stage", "6", "--skip-stages", "3,6"], [2, 4, 5]),
    (["--stage", "13"], [13, 14]),                       # 15 (upload) skipped by default
    (["--stage", "13", "--skip_upload", "false"], [13, 14, 15]),
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
    assert "option --dry_run takes true or false, got 'maybe'" in out.stderr


def _conf_vars(path: Path):
    return {m.group(1): m.group(2) for m in re.finditer(r"^([a-z_]+)=(.*)$", path.read_text(), re.M)}


def _template_defaults():
    """Option defaults of spire.sh (before its help message), trailing comments dropped."""
    head = (TEMPLATE / "spire.sh").read_text().split("help_message=")[0]
    return {m.group(1): m.group(2).split("  #")[0].strip()
            for m in re.finditer(r"^([a-z_]+)=(.*)$", head, re.M)}


def test_recipes_link_to_the_template():
    for recipe in (PAPER, DEMO):
        for name in ("spire.sh", "path.sh", "cmd.sh", "utils", "scripts"):
            link = recipe / name
            assert link.is_symlink() and link.resolve() == (TEMPLATE / name).resolve(), link


def test_demo_overlays_only_what_differs():
    """The template's defaults are the paper's settings; conf/demo.conf and conf/smoke.conf set
    only options that exist and values that differ from what they overlay."""
    defaults = _template_defaults()
    demo = _conf_vars(DEMO / "conf/demo.conf")
    smoke = _conf_vars(DEMO / "conf/smoke.conf")
    for name, overlay, base in (("demo.conf", demo, defaults), ("smoke.conf", smoke, {**defaults, **demo})):
        for var, value in overlay.items():
            assert var in defaults, f"{name}: {var} is not an option of spire.sh"
            assert value != base[var], f"{name}: {var}={value} repeats the value it overlays"
    assert defaults["ssl_layer"] == "22" and defaults["nclusters"] == "5000"
    assert defaults["cpt_max_len"] == "4096" and defaults["pseudo_st_threshold"] == "0.85"
    assert defaults["spbleu"] == "true" and defaults["copy_baseline"] == "false"
    assert defaults["lm_launcher"] == "deepspeed" and defaults["base_model"] == '""'


def test_no_demo_setting_reaches_the_paper_recipe(tmp_path):
    """Nothing of the demo (its data, toy base, configs, overlays) is named by the paper's recipe,
    and its run.sh runs stages 1-14 with the template's (the paper's) settings."""
    outputs = {"data", "dump", "exp", "downloads"}   # a run's outputs, not the recipe
    for path in PAPER.rglob("*"):
        if outputs & set(path.relative_to(PAPER).parts):
            continue
        if path.is_file() and not path.is_symlink() and "/conf/it_mixtures/" not in str(path):
            text = path.read_text()
            for word in ("demo.conf", "smoke.conf", "toy_base", "demo_train", "train_cpt_demo"):
                assert word not in text, f"{path.relative_to(PAPER)} names {word}"
    out = run("--dry_run", "true", "--expdir", str(tmp_path / "exp"), cwd=PAPER)
    assert out.returncode == 0, out.stderr
    assert stages_that_would_run(out.stderr) == list(range(1, 15))
    # run.sh reads the paper's configuration, and no other
    assert re.findall(r"--config (\S+)", out.stderr.splitlines()[0]) == ["conf/spire.conf"]


def test_paper_recipe_stage1_names_the_missing_corpora(tmp_path):
    from recipe_paths import RECIPE_ENV, copy_recipe

    work = copy_recipe(PAPER, tmp_path / "spire1")
    out = subprocess.run(["./run.sh", "--stop_stage", "1"], cwd=work, env=RECIPE_ENV,
                         capture_output=True, text=True)
    assert out.returncode != 0
    assert "corpora of db.sh are missing (nothing was prepared)" in out.stderr
    assert "corpus librispeech: LIBRISPEECH is not set in db.sh" in out.stderr
    assert "corpus tower_cpt_text: TOWER_CPT_TEXT is not set in db.sh" in out.stderr
    assert not (work / "data").exists()


def test_template_needs_the_data_sets(tmp_path):
    out = subprocess.run(["./spire.sh", "--dry_run", "true", "--expdir", str(tmp_path / "exp")],
                         cwd=PAPER, capture_output=True, text=True)
    assert out.returncode == 2
    assert "Error: --train_set, --valid_set and --test_sets are required" in out.stderr


def test_training_configs_are_required_from_stage_8(tmp_path):
    out = run("--dry_run", "true", "--cpt_config", "", "--stage", "8", "--expdir", str(tmp_path / "exp"))
    assert out.returncode == 2
    assert "Error: --cpt_config and --it_config are required from stage 8 on" in out.stderr
    out = run("--dry_run", "true", "--cpt_config", "", "--stop_stage", "7", "--expdir", str(tmp_path / "exp"))
    assert out.returncode == 0, out.stderr


def test_stage6_needs_a_base_model(tmp_path):
    out = run("--stage", "6", "--stop_stage", "6", "--base_model", str(tmp_path / "none"),
              "--expdir", str(tmp_path / "exp"))
    assert out.returncode == 2
    assert ("Error: stage 6 needs --base_model <local HF dir of the base LLM>; "
            f"'{tmp_path / 'none'}' has no config.json") in out.stderr
