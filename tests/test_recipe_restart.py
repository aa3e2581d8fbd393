"""Killing a real labelling run (stage 5 through spire.sh and the local job launcher) and running
it again finishes only the unfinished jobs and gives the same bytes as an uninterrupted run."""

import os
import signal
import subprocess
import time

import pytest

from recipe_paths import DEMO, copy_recipe
from recipe_paths import RECIPE_ENV as ENV

# Kills and resumes a real stage-5 run of the recipe.
pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.fault]

COMMON = ["--nj", "4", "--nclusters", "16", "--kmeans_batch_size", "2000"]


def run(work, *args, check=True):
    out = subprocess.run(["./run.sh", *COMMON, *args], cwd=work, env=ENV, capture_output=True,
                         text=True)
    if check:
        assert out.returncode == 0, out.stderr[-3000:]
    return out


def units_bytes(work):
    d = work / "dump/units/demo_train"
    return {n: (d / n).read_bytes() for n in ("units", "utt2num_units", "failed")}


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    work = copy_recipe(DEMO, tmp_path_factory.mktemp("restart") / "spire1")
    run(work, "--stage", "1", "--stop_stage", "4", "--local_data_opts",   # the corpus, no toy base
        "--stop_stage 1 --n_train 400 --n_dev 4 --n_test 4 --n_mt 5 --n_mono 5")
    run(work, "--stage", "5", "--stop_stage", "5")
    return work, units_bytes(work)


def _wait_until_gone(pgid: int, seconds: float = 30) -> None:
    """Until every process of the killed run is gone: its jobs hold the experiment lock until the
    kernel has torn them down, and a rerun before that is refused (README "When things go wrong")."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    pytest.fail(f"processes of the killed run still exist {seconds} s after SIGKILL")


def test_killed_stage5_resumes_to_identical_bytes(recipe):
    work, reference = recipe
    logdir = work / "dump/units/demo_train/logdir"
    for attempt in range(5):
        subprocess.run(["rm", "-rf", str(work / "dump/units")], check=True)
        proc = subprocess.Popen(["./run.sh", *COMMON, "--stage", "5", "--stop_stage", "5"],
                                cwd=work, env=ENV, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 120
        while time.time() < deadline and not list(logdir.glob("output.*/done")):
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        _wait_until_gone(proc.pid)
        done = sorted(p.parent.name for p in logdir.glob("output.*/done"))
        if 0 < len(done) < 4:
            break
    else:
        pytest.fail("could not interrupt stage 5 between two jobs")
    assert not (work / "dump/units/demo_train/units").exists()
    stamps = {j: (logdir / j / "units").stat().st_mtime_ns for j in done}

    run(work, "--stage", "5", "--stop_stage", "5")
    assert units_bytes(work) == reference
    for j, stamp in stamps.items():
        assert (logdir / j / "units").stat().st_mtime_ns == stamp, f"{j} was redone"
    # job N's log (one job set over every set) says it skipped its finished part of demo_train
    jobs_dir = work / "dump/logs/stage5"
    log_text = "".join((jobs_dir / f"label_units.{j.split('.')[1]}.log").read_text() for j in done)
    assert "skip" in log_text.lower(), log_text[-2000:]
