"""Fault injection on how a run is driven (issue #15, items 5, 6 and 10): two runs on one
experiment, resuming under a changed training config, bad options, a full disk.

Each test reproduces a fault that went unnoticed before (rc 0, wrong or no work) and asserts
the message that now names it."""

import fcntl
import os
import signal
import subprocess
from pathlib import Path

import pytest

from recipe_paths import DEMO, RECIPE_ENV, ROOT, copy_recipe

pytestmark = pytest.mark.fault

ENV = {**RECIPE_ENV, "PYTHONPATH": str(ROOT)}


def run_recipe(work: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["./run.sh", *args], cwd=work, env=ENV, capture_output=True, text=True,
                          timeout=300)


def tree_state(root: Path):
    """Every path under ``root`` with its size and mtime: what a run wrote, if anything."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if not p.is_symlink()}


@pytest.fixture
def recipe(tmp_path):
    """A scratch copy of the demo recipe (no data: stage 15 alone needs none and is skipped)."""
    return copy_recipe(DEMO, tmp_path / "spire1")


# ---------------------------------------------------------------- item 5: the experiment lock
def test_second_run_on_a_locked_experiment_stops_at_once(recipe):
    (recipe / "exp").mkdir()
    lock = recipe / "exp" / ".spire.lock"
    with open(lock, "a+") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        holder.write(f"pid {os.getpid()} since now: ./run.sh --stage 8\n")
        holder.flush()
        before = tree_state(recipe)
        out = run_recipe(recipe, "--stage", "15")
        after = tree_state(recipe)
        # only looking is allowed under the lock
        dry = run_recipe(recipe, "--stage", "15", "--dry_run", "true")
    assert out.returncode == 3, out.stderr
    assert "Error: another run holds the lock exp/.spire.lock" in out.stderr
    assert f"pid {os.getpid()} since now: ./run.sh --stage 8" in out.stderr
    assert "nothing was started" in out.stderr
    assert after == before            # no log renamed, no last_command, nothing
    assert dry.returncode == 0, dry.stderr
    assert "Stage 15: skipped" in dry.stderr


def test_lock_of_a_killed_run_is_not_stale(recipe):
    (recipe / "exp").mkdir()
    # -o: sleep does not inherit the lock, so killing flock kills the only holder
    holder = subprocess.Popen(["flock", "-o", "exp/.spire.lock", "sleep", "300"], cwd=recipe)
    try:
        blocked = run_recipe(recipe, "--stage", "15")
        assert blocked.returncode == 3, blocked.stderr
        assert "exp/.spire.lock (holder not recorded)" in blocked.stderr
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    out = run_recipe(recipe, "--stage", "15")
    assert out.returncode == 0, out.stderr
    assert "Successfully finished" in out.stderr
    # the lock file now names the run that held it (read by the next run's message)
    assert (recipe / "exp" / ".spire.lock").read_text().startswith("pid ")
    assert (recipe / "exp" / "spire.sh.last_command").exists()


# ---------------------------------------------------------------- item 10: options
@pytest.mark.parametrize("args,message", [
    (["--stage", "99"], "--stage '99': must be a stage number, 1-15"),
    (["--stage", "abc"], "--stage 'abc': must be a stage number, 1-15"),
    (["--stop_stage", "0"], "--stop_stage '0': must be a stage number, 1-15"),
    (["--stage", "5", "--stop_stage", "4"], "--stop_stage 4 is below --stage 5: no stage would run"),
    (["--skip_stages", "3,x"], "--skip_stages '3,x': 'x' is not a stage number, 1-15"),
    (["--nj", "0"], "--nj '0': must be a whole number >= 1"),
    (["--nj", "-2"], "--nj '-2': must be a whole number >= 1"),
    (["--inference_nj", "0"], "--inference_nj '0': must be a whole number >= 1"),
    (["--ngpu", "-1"], "--ngpu '-1': must be a whole number >= 0"),
    (["--dumpdir", "my dump"], "--dumpdir 'my dump': paths with spaces are not supported"),
    (["--expdir", "my exp"], "--expdir 'my exp': paths with spaces are not supported"),
    (["--variants", "spirebase spirefulll"],
     "--variants: unknown variant 'spirefulll' (known: spirebase noblocks nopseudo spirefull towerfull;"),
])
def test_bad_options_fail_before_any_work(recipe, args, message):
    before = tree_state(recipe)
    for extra in ([], ["--dry_run", "true"]):
        out = run_recipe(recipe, *args, *extra)
        assert out.returncode == 2, (args, extra, out.stderr)
        assert "Error: invalid options (nothing was started):" in out.stderr
        assert message in out.stderr, out.stderr
    assert tree_state(recipe) == before


def test_ngpu_without_a_gpu_fails_before_any_stage(recipe):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible here: the no-GPU error cannot happen")
    before = tree_state(recipe)
    out = run_recipe(recipe, "--ngpu", "1", "--stage", "15")
    assert out.returncode == 2, out.stderr
    assert "Error: --ngpu 1 but torch sees 0 GPU(s)" in out.stderr
    assert tree_state(recipe) == before
    # looking at a GPU run's plan from a machine without GPUs is fine
    out = run_recipe(recipe, "--ngpu", "1", "--stage", "15", "--dry_run", "true")
    assert out.returncode == 0, out.stderr
