"""Tests for the job backends: utils/launch_local.sh, utils/launch_slurm.sh and cmd.sh."""
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from recipe_paths import DEMO, PAPER, UTILS

RECIPE = PAPER
LOCAL = UTILS / "launch_local.sh"
SLURM = UTILS / "launch_slurm.sh"


def run(args, cwd, env=None, timeout=60):
    full_env = dict(os.environ)
    full_env.pop("SPIRE_SLURM_DRY_RUN", None)
    full_env.update(env or {})
    return subprocess.run([str(a) for a in args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


def body(log):
    """The lines a job wrote, without the launcher's header and footer."""
    return [line for line in Path(log).read_text().splitlines() if not line.startswith("# ")]


def footer_code(log):
    match = re.search(r"exit code (\d+)\s*$", Path(log).read_text())
    assert match, Path(log).read_text()
    return int(match.group(1))


# ---------------------------------------------------------------- launch_local.sh

def test_local_job_substitution_and_logs(tmp_path):
    result = run([LOCAL, "JOB=1:3", "exp/a/log/x.JOB.log",
                  "echo", "job JOB of 3", "out.JOB", ";", "echo", "err JOB", ">&2"], tmp_path)
    assert result.returncode == 0, result.stderr
    for i in (1, 2, 3):
        log = tmp_path / f"exp/a/log/x.{i}.log"   # the log dir was created
        lines = log.read_text().splitlines()
        assert lines[0].startswith("# ") and f"out.{i}" in lines[0]   # header: the command
        assert lines[1].startswith("# Started at")
        assert lines[-1].startswith("# Ended at") and lines[-1].endswith("exit code 0")
        assert body(log) == [f"job {i} of 3 out.{i}", f"err {i}"]   # stdout and stderr


def test_local_single_string_command_with_pipe(tmp_path):
    result = run([LOCAL, "JOB=2:3", "log/p.JOB.log", "printf 'a b\\nc JOB\\n' | wc -l | tr -d ' '"],
                 tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "log/p.1.log").exists()
    assert body(tmp_path / "log/p.2.log") == ["2"]
    assert body(tmp_path / "log/p.3.log") == ["2"]


def test_local_multi_arg_command_keeps_quoting(tmp_path):
    result = run([LOCAL, "JOB=1:2", "log/q.JOB.log", "python3", "-c",
                  "import sys; print(sys.argv[1:])", "--train_args", "--foo 1 --bar JOB", "$HOME",
                  "|", "tr", "[", "{"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert body(tmp_path / "log/q.2.log") == ["{'--train_args', '--foo 1 --bar 2', '$HOME']"]


def test_local_single_job_without_range(tmp_path):
    result = run([LOCAL, "--mem", "2G", "--time=1:00:00", "log/one.log", "echo", "hello", "JOB"],
                 tmp_path)
    assert result.returncode == 0, result.stderr
    assert body(tmp_path / "log/one.log") == ["hello JOB"]   # nothing substituted


def overlap(stamps):
    """Largest number of [start, end] intervals that are open at the same time."""
    events = sorted([(s, 1) for s, _ in stamps] + [(e, -1) for _, e in stamps])
    best = cur = 0
    for _, delta in events:
        cur += delta
        best = max(best, cur)
    return best


def test_local_jobs_run_in_parallel_by_default(tmp_path):
    # Each job waits (at most 20 s) until all 6 have started: that only succeeds if they all run
    # at the same time.
    cmd = ("touch started.JOB; for i in $(seq 200); do [ $(ls started.* | wc -l) -eq 6 ] && exit 0; "
           "sleep 0.1; done; exit 1")
    result = run([LOCAL, "JOB=1:6", "log/b.JOB.log", cmd], tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("max_jobs", [1, 2])
def test_local_max_jobs_run(tmp_path, max_jobs):
    cmd = "s=$(date +%s.%N); sleep 0.5; echo $s $(date +%s.%N) > stamp.JOB"
    result = run([LOCAL, "--max_jobs_run", str(max_jobs), "JOB=1:5", "log/t.JOB.log", cmd],
                 tmp_path)
    assert result.returncode == 0, result.stderr
    stamps = [tuple(map(float, (tmp_path / f"stamp.{i}").read_text().split()))
              for i in range(1, 6)]
    assert overlap(stamps) == max_jobs


def test_local_max_jobs_dash_form(tmp_path):
    cmd = "s=$(date +%s.%N); sleep 0.4; echo $s $(date +%s.%N) > stamp.JOB"
    result = run([LOCAL, "--max-jobs-run=2", "JOB=1:4", "log/t.JOB.log", cmd], tmp_path)
    assert result.returncode == 0, result.stderr
    stamps = [tuple(map(float, (tmp_path / f"stamp.{i}").read_text().split()))
              for i in range(1, 5)]
    assert overlap(stamps) == 2


def test_local_failing_job_fails_the_launcher(tmp_path):
    result = run([LOCAL, "--max_jobs_run", "2", "JOB=1:8", "exp/foo/log/x.JOB.log",
                  "echo start JOB; [ JOB -ne 3 ] && [ JOB -ne 6 ]"], tmp_path)
    assert result.returncode != 0
    assert "2 / 8 failed, log is in exp/foo/log/x.3.log" in result.stderr
    for i in range(1, 9):   # the other jobs still ran to the end
        log = tmp_path / f"exp/foo/log/x.{i}.log"
        assert body(log) == [f"start {i}"]
        assert footer_code(log) == (1 if i in (3, 6) else 0)


def test_local_pipefail_in_jobs(tmp_path):
    result = run([LOCAL, "log/f.log", "false | cat"], tmp_path)
    assert result.returncode != 0
    assert "log/f.log" in result.stderr


def test_local_gpu_round_robin(tmp_path):
    env = {"CUDA_VISIBLE_DEVICES": "3,5"}
    result = run([LOCAL, "--gpu", "1", "JOB=1:3", "log/g.JOB.log", "echo $CUDA_VISIBLE_DEVICES"],
                 tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert [body(tmp_path / f"log/g.{i}.log") for i in (1, 2, 3)] == [["3"], ["5"], ["3"]]
    result = run([LOCAL, "--gpu", "2", "log/h.log", "echo $CUDA_VISIBLE_DEVICES"], tmp_path,
                 {"CUDA_VISIBLE_DEVICES": "0,1,2,3"})
    assert body(tmp_path / "log/h.log") == ["0,1"]


def test_local_num_threads(tmp_path):
    result = run([LOCAL, "--num_threads", "3", "log/n.log", "echo $OMP_NUM_THREADS"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert body(tmp_path / "log/n.log") == ["3"]


@pytest.mark.parametrize("args", [
    ["--bogus", "1", "log/x.log", "true"],   # unknown option
    ["JOB=1:2", "log/x.log", "true"],         # two jobs, one log file
    ["JOB=3:2", "log/x.JOB.log", "true"],     # empty range
    ["log/x.log"],                            # no command
])
def test_local_usage_errors(tmp_path, args):
    result = run([LOCAL, *args], tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip()


# ---------------------------------------------------------------- launch_slurm.sh

SLURM_CONF = """# test config
mem=7G             # comment after a value
num_threads=3
time=1:00:00
gpu=0
max_jobs_run=
partition=cpuq
gpu_partition=gpuq
gres_type=gpu:a100
account=proj1
qos=
extra_opts=--exclude=node7 --nice=10
"""


def sbatch_line(result):
    assert result.returncode == 0, result.stderr
    return shlex.split(result.stdout.strip().splitlines()[-1])


def test_slurm_dry_run_command_line(tmp_path):
    (tmp_path / "slurm.conf").write_text(SLURM_CONF)
    result = run([SLURM, "--config", "slurm.conf", "--dry_run", "true", "--max_jobs_run", "3",
                  "JOB=1:8", "exp/log/stats.JOB.log", "python3", "-m", "x", "--part", "JOB"],
                 tmp_path)
    argv = sbatch_line(result)
    assert argv[0] == "sbatch"
    assert "--wait" in argv
    assert "--array=1-8%3" in argv
    assert "--job-name=stats" in argv
    assert "--mem=7G" in argv
    assert "--cpus-per-task=3" in argv
    assert "--time=1:00:00" in argv
    assert "--partition=cpuq" in argv
    assert "--account=proj1" in argv
    assert "--exclude=node7" in argv and "--nice=10" in argv
    assert not any(a.startswith(("--gres", "--qos")) for a in argv)
    assert "--output=exp/log/q/stats.%a.out" in argv
    assert argv[-1] == "exp/log/q/stats.sh"
    assert (tmp_path / "exp/log/q/stats.sh").exists()
    assert not (tmp_path / "exp/log/stats.1.log").exists()   # nothing ran


def test_slurm_command_line_overrides_config(tmp_path):
    (tmp_path / "slurm.conf").write_text(SLURM_CONF)
    result = run([SLURM, "--config=slurm.conf", "--gpu", "2", "--mem", "9G", "--num-threads", "4",
                  "--time", "2:00:00", "JOB=2:5", "log/train.JOB.log", "true"], tmp_path,
                 {"SPIRE_SLURM_DRY_RUN": "1"})
    argv = sbatch_line(result)
    assert "--array=2-5" in argv
    assert "--gres=gpu:a100:2" in argv
    assert "--partition=gpuq" in argv   # gpu jobs go to gpu_partition
    assert "--mem=9G" in argv and "--mem=7G" not in argv
    assert "--cpus-per-task=4" in argv
    assert "--time=2:00:00" in argv
    result = run([SLURM, "--config=slurm.conf", "--partition", "other", "log/one.log", "true"],
                 tmp_path, {"SPIRE_SLURM_DRY_RUN": "1"})
    argv = sbatch_line(result)
    assert "--partition=other" in argv and "--array=1-1" in argv


def test_slurm_recipe_config_and_defaults(tmp_path):
    result = run([SLURM, "--config", RECIPE / "conf/slurm.conf", "--dry_run", "true",
                  "JOB=1:2", "log/a.JOB.log", "true"], tmp_path)
    argv = sbatch_line(result)
    assert "--mem=4G" in argv and "--cpus-per-task=1" in argv and "--array=1-2" in argv
    # Without conf/slurm.conf in the working dir the built-in defaults are used.
    result = run([SLURM, "--dry_run", "true", "log/b.log", "true"], tmp_path)
    assert "--mem=4G" in sbatch_line(result)
    # An explicit config that does not exist, or a bad line, is an error.
    result = run([SLURM, "--config", "nope.conf", "--dry_run", "true", "log/b.log", "true"],
                 tmp_path)
    assert result.returncode != 0 and "nope.conf" in result.stderr
    result = run([SLURM, "--dry_run", "yes", "log/b.log", "true"], tmp_path)
    assert result.returncode != 0 and "true or false" in result.stderr
    (tmp_path / "bad.conf").write_text("memory=4G\n")
    result = run([SLURM, "--config", "bad.conf", "--dry_run", "true", "log/b.log", "true"],
                 tmp_path)
    assert result.returncode != 0 and "memory=4G" in result.stderr


def test_slurm_batch_script_runs_one_task(tmp_path):
    result = run([SLURM, "--dry_run", "true", "JOB=1:4", "exp/log/x.JOB.log",
                  "echo", "task JOB", "with 'quotes'", "|", "tr", "a-z", "A-Z"], tmp_path)
    assert result.returncode == 0, result.stderr
    script = tmp_path / "exp/log/q/x.sh"
    assert os.access(script, os.X_OK)
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "SLURM_ARRAY_TASK_ID" in text
    # Run task 3 the way Slurm would, from another directory.
    task = run(["bash", script], "/", {"SLURM_ARRAY_TASK_ID": "3"})
    assert task.returncode == 0, task.stderr
    log = tmp_path / "exp/log/x.3.log"
    assert body(log) == ["TASK 3 WITH 'QUOTES'"]
    assert footer_code(log) == 0
    assert (tmp_path / "exp/log/q/x.3.status").read_text().strip() == "0"


FAKE_SBATCH = r"""#!/usr/bin/env bash
# Stand-in for sbatch --wait: runs every array task of the script here, one after the other.
echo "$@" > "$(dirname "$0")/sbatch.args"
array=; for a in "$@"; do case $a in --array=*) array=${a#--array=}; array=${array%%%*};; esac; done
script=${!#}; rc=0
for ((i = ${array%-*}; i <= ${array#*-}; i++)); do
    [ "$i" = "${FAKE_SBATCH_SKIP:-}" ] && continue   # a task killed before it could finish
    SLURM_ARRAY_TASK_ID=$i bash "$script" || rc=1
done
exit $rc
"""


@pytest.fixture
def fake_sbatch(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "sbatch").write_text(FAKE_SBATCH)
    (bindir / "sbatch").chmod(0o755)
    return {"PATH": f"{bindir}:{os.environ['PATH']}"}


def test_slurm_submit_wait_and_check(tmp_path, fake_sbatch):
    result = run([SLURM, "--max_jobs_run", "2", "JOB=1:3", "exp/log/y.JOB.log", "echo y JOB"],
                 tmp_path, fake_sbatch)
    assert result.returncode == 0, result.stderr
    assert "--array=1-3%2" in (tmp_path / "bin/sbatch.args").read_text()
    assert [body(tmp_path / f"exp/log/y.{i}.log") for i in (1, 2, 3)] == [["y 1"], ["y 2"], ["y 3"]]


def test_slurm_failed_task_fails_the_launcher(tmp_path, fake_sbatch):
    result = run([SLURM, "JOB=1:4", "exp/log/z.JOB.log", "[ JOB != 2 ]"], tmp_path, fake_sbatch)
    assert result.returncode != 0
    assert "1 / 4 failed, log is in exp/log/z.2.log" in result.stderr
    # A task without a recorded exit code (e.g. killed by Slurm) counts as failed too.
    result = run([SLURM, "JOB=1:4", "exp/log/w.JOB.log", "true"], tmp_path,
                 {**fake_sbatch, "FAKE_SBATCH_SKIP": "3"})
    assert result.returncode != 0
    assert "1 / 4 failed, log is in exp/log/w.3.log" in result.stderr


def test_slurm_sbatch_failure(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "sbatch").write_text("#!/bin/sh\necho 'sbatch: error: invalid partition' >&2\nexit 1\n")
    (bindir / "sbatch").chmod(0o755)
    result = run([SLURM, "log/a.log", "true"], tmp_path,
                 {"PATH": f"{bindir}:{os.environ['PATH']}"})
    assert result.returncode != 0
    assert "sbatch failed" in result.stderr


# ---------------------------------------------------------------- cmd.sh

@pytest.mark.parametrize("recipe", [PAPER, DEMO], ids=["paper", "demo"])
@pytest.mark.parametrize("backend, launcher", [("local", "launch_local.sh"),
                                               ("slurm", "launch_slurm.sh")])
def test_cmd_sh_backends(backend, launcher, recipe):
    script = ('set -euo pipefail; . ./cmd.sh; '
              'printf "%s\\n" "$train_cmd" "$cuda_cmd" "$decode_cmd"')
    result = run(["bash", "-c", script], recipe, {"cmd_backend": backend})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    for line in lines:
        assert line.split()[0] == f"utils/{launcher}"
        assert (recipe / line.split()[0]).exists()
        if backend == "slurm":
            assert (recipe / "conf/slurm.conf").is_file()


def test_cmd_sh_default_is_local_and_runs_jobs(tmp_path):
    script = (f'set -euo pipefail; unset cmd_backend; . ./cmd.sh; '
              f'${{decode_cmd}} JOB=1:2 {tmp_path}/log/d.JOB.log echo decode JOB')
    result = run(["bash", "-c", script], RECIPE)
    assert result.returncode == 0, result.stderr
    assert body(tmp_path / "log/d.2.log") == ["decode 2"]


def test_cmd_sh_unknown_backend():
    result = run(["bash", "-c", "set -e; . ./cmd.sh; echo still here"], RECIPE,
                 {"cmd_backend": "pbs"})
    assert result.returncode != 0
    assert "still here" not in result.stdout
    assert "cmd.sh: unknown cmd_backend 'pbs' (use local or slurm)" in result.stderr
