"""Tests for egs2/TEMPLATE/spire1/utils/parse_options.sh (sourced by recipe scripts)."""
import subprocess

import pytest

from recipe_paths import UTILS

PARSE_OPTIONS = UTILS / "parse_options.sh"

# A small script in the style of the recipe scripts: options as variables, then the parser.
SCRIPT = r"""#!/usr/bin/env bash
set -euo pipefail
stage=1            # first stage
stop_stage=100     # last stage
train_args=""      # extra training options
use_gpu=false      # a boolean
help_message="Usage: demo.sh [options] <in> <out>"
. "{parse_options}"
printf 'stage=[%s]\n' "$stage"
printf 'stop_stage=[%s]\n' "$stop_stage"
printf 'train_args=[%s]\n' "$train_args"
printf 'use_gpu=[%s]\n' "$use_gpu"
printf 'nargs=%d\n' "$#"
for a in "$@"; do printf 'arg=[%s]\n' "$a"; done
if declare -p | grep -q '_po_'; then echo "leaked helper variables"; fi
"""


@pytest.fixture
def demo(tmp_path):
    script = tmp_path / "demo.sh"
    script.write_text(SCRIPT.replace("{parse_options}", str(PARSE_OPTIONS)))
    script.chmod(0o755)

    def run(*args):
        return subprocess.run([str(script), *args], capture_output=True, text=True,
                              cwd=tmp_path, timeout=30)
    return run


def parsed(result):
    """Variables and positional args printed by the demo script."""
    assert result.returncode == 0, result.stderr
    assert "leaked" not in result.stdout
    values, args = {}, []
    for line in result.stdout.splitlines():
        key, _, value = line.partition("=")
        if key == "arg":
            args.append(value[1:-1])
        elif key != "nargs":
            values[key] = value[1:-1]
    return values, args


def test_defaults_without_options(demo):
    values, args = parsed(demo())
    assert values == {"stage": "1", "stop_stage": "100", "train_args": "", "use_gpu": "false"}
    assert args == []


def test_underscore_and_dash_forms(demo):
    values, _ = parsed(demo("--stage", "3", "--stop-stage", "5", "--stop_stage", "7"))
    assert values["stage"] == "3"
    assert values["stop_stage"] == "7"   # the later option wins
    values, _ = parsed(demo("--stop-stage", "9"))
    assert values["stop_stage"] == "9"


def test_equals_form(demo):
    values, _ = parsed(demo("--stage=4", "--stop-stage=6", "--train_args=--lr=0.1 --x y"))
    assert values["stage"] == "4"
    assert values["stop_stage"] == "6"
    assert values["train_args"] == "--lr=0.1 --x y"
    values, _ = parsed(demo("--train_args="))
    assert values["train_args"] == ""


def test_values_with_spaces_and_leading_dashes(demo):
    values, _ = parsed(demo("--train_args", "--foo 1 --bar 2", "--stage", "2"))
    assert values["train_args"] == "--foo 1 --bar 2"
    assert values["stage"] == "2"
    values, _ = parsed(demo("--train_args", "  a  'b' \"c\" $HOME *  "))
    assert values["train_args"] == "  a  'b' \"c\" $HOME *  "


def test_positional_args_are_left(demo):
    values, args = parsed(demo("--stage", "2", "in dir", "out", "--stop_stage", "3"))
    assert values["stage"] == "2"
    assert values["stop_stage"] == "100"   # parsing stopped at "in dir"
    assert args == ["in dir", "out", "--stop_stage", "3"]


def test_double_dash_ends_options(demo):
    values, args = parsed(demo("--stage", "5", "--", "--stop_stage", "x"))
    assert values["stage"] == "5"
    assert args == ["--stop_stage", "x"]


def test_unknown_option_is_an_error(demo):
    result = demo("--stage", "2", "--no_such_option", "1", "pos")
    assert result.returncode != 0
    assert "--no_such_option" in result.stderr
    assert "unknown option" in result.stderr
    assert "stage=" not in result.stdout   # the script stopped


def test_missing_value_is_an_error(demo):
    result = demo("--stage")
    assert result.returncode != 0
    assert "needs a value" in result.stderr


def test_boolean_values(demo):
    values, _ = parsed(demo("--use_gpu", "true"))
    assert values["use_gpu"] == "true"
    result = demo("--use_gpu", "yes")
    assert result.returncode != 0
    assert "true or false" in result.stderr


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_prints_help_message(demo, flag):
    result = demo("--stage", "2", flag, "--bogus")
    assert result.returncode == 0
    assert "Usage: demo.sh [options] <in> <out>" in result.stdout
    assert "stage=" not in result.stdout


def test_help_without_help_message(tmp_path):
    script = tmp_path / "bare.sh"
    script.write_text(f"#!/usr/bin/env bash\nset -euo pipefail\nx=1\n. {PARSE_OPTIONS}\necho ran\n")
    script.chmod(0o755)
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert "Usage" in result.stdout
    assert "ran" not in result.stdout


def test_config_file_is_sourced_and_command_line_wins(demo, tmp_path):
    conf = tmp_path / "my.conf"
    conf.write_text("# a config\nstage=8\ntrain_args='--a 1'\nstop_stage=9\n")
    # --stage comes before --config, but the command line still overrides the file.
    values, args = parsed(demo("--stage", "2", "--config", str(conf), "pos"))
    assert values == {"stage": "2", "stop_stage": "9", "train_args": "--a 1", "use_gpu": "false"}
    assert args == ["pos"]
    values, _ = parsed(demo(f"--config={conf}"))
    assert values["stage"] == "8"
    result = demo("--config", str(tmp_path / "missing.conf"))
    assert result.returncode != 0
    assert "missing.conf" in result.stderr


def test_caller_shell_options_are_not_changed(tmp_path):
    script = tmp_path / "loose.sh"
    script.write_text(
        f"#!/usr/bin/env bash\nstage=1\n. {PARSE_OPTIONS}\n"
        "echo \"stage=$stage\"\nfalse\necho \"undefined=[$not_defined]\"\n"
    )
    script.chmod(0o755)
    result = subprocess.run([str(script), "--stage", "3"], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["stage=3", "undefined=[]"]
