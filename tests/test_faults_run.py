"""Fault injection on how a run is driven (issue #15, items 5, 6 and 10): two runs on one
experiment, resuming under a changed training config, bad options, a full disk.

Each test reproduces a fault that went unnoticed before (rc 0, wrong or no work) and asserts
the message that now names it."""

import fcntl
import os
import resource
import signal
import subprocess
import sys
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


# ---------------------------------------------------------------- item 6: resume under a changed config
@pytest.mark.slow
def test_resume_with_a_changed_config_stops_or_restarts_the_optimizer(tmp_path):
    import torch

    from espnet_spire.tasks.spire_lm import SpireLMTask
    from espnet_spire.train.config_guard import RECORD, TrainingConfigChanged
    from spire_lm_helpers import base_args, epoch_values, make_data, make_tiny_llama, read_reporter

    model = make_tiny_llama(tmp_path / "model")
    train, valid = make_data(tmp_path / "data", "cpt", n_train=16, n_valid=4)
    exp = tmp_path / "exp"

    def train_cmd(max_epoch, lr, **kw):
        return base_args(model, exp, train, valid, max_epoch=max_epoch, resume="true",
                         use_matplotlib="false", optim_conf=f'{{"lr": {lr}, "weight_decay": 0.0}}',
                         keep_nbest_models=3, **kw)

    SpireLMTask.main(cmd=train_cmd(1, 0.003))
    first = (exp / RECORD).read_text()
    ckpt = (exp / "checkpoint.pth").stat().st_mtime_ns
    # the same config again: nothing to do, nothing changed
    SpireLMTask.main(cmd=train_cmd(1, 0.003))
    assert (exp / RECORD).read_text() == first

    # more epochs and another lr under the same dir: before, epoch 2 ran at lr 0 with rc 0
    with pytest.raises(TrainingConfigChanged) as err:
        SpireLMTask.main(cmd=train_cmd(2, 0.01))
    msg = str(err.value)
    assert "the training config changed since this experiment started (recorded " in msg
    assert f"in {exp / RECORD}, now " in msg
    assert "max_epoch: 1 -> 2" in msg and "0.003" in msg and "0.01" in msg
    assert "--cpt_tag/--it_tag" in msg and f"delete {exp}" in msg
    assert "--resume_with_new_config true" in msg
    assert (exp / "checkpoint.pth").stat().st_mtime_ns == ckpt
    assert not (exp / "2epoch.pth").exists()
    assert (exp / RECORD).read_text() == first

    # accepted: weights and epoch count kept, a fresh optimizer and schedule for epoch 2
    SpireLMTask.main(cmd=train_cmd(2, 0.01, resume_with_new_config="true"))
    rep = read_reporter(exp)
    assert rep["epoch"] == 2
    lrs = epoch_values(rep, "train", "optim0_lr0")
    assert lrs[1] > 0.001, lrs                       # not the finished schedule's lr 0
    w1 = torch.load(exp / "1epoch.pth", map_location="cpu")
    w2 = torch.load(exp / "2epoch.pth", map_location="cpu")
    assert max((w1[k] - w2[k]).abs().max().item() for k in w1) > 0
    # the new config is now the experiment's: a plain resume of it is accepted
    SpireLMTask.main(cmd=train_cmd(2, 0.01))
    assert read_reporter(exp)["epoch"] == 2


# ---------------------------------------------------------------- item 10: a full disk
def _tiny_training(tmp_path, exp):
    from spire_lm_helpers import base_args, make_data, make_tiny_llama

    model = make_tiny_llama(tmp_path / "model")
    train, valid = make_data(tmp_path / "data", "cpt", n_train=8, n_valid=4)
    return base_args(model, exp, train, valid, max_epoch=1, resume="true", use_matplotlib="false")


def _stray_temporaries(exp: Path):
    return [p.name for p in exp.rglob("*") if ".tmp" in p.name]


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 400 KiB tmpfs: room for the run's small files, not for a checkpoint."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    out = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mnt)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({out.stderr.strip() or out.returncode}); "
                    "the file-size-limit test covers the same path")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.mark.slow
def test_checkpoint_on_a_full_disk_says_disk_full(tmp_path, small_tmpfs):
    from espnet_spire.common.fileio import DiskFullError
    from espnet_spire.tasks.spire_lm import SpireLMTask

    exp = small_tmpfs / "exp"
    with pytest.raises(DiskFullError) as err:
        SpireLMTask.main(cmd=_tiny_training(tmp_path, exp))
    assert f"disk full: {exp / 'checkpoint.pth'} (No space left on device)" in str(err.value)
    assert _stray_temporaries(exp) == []
    assert not (exp / "checkpoint.pth").exists()


@pytest.mark.slow
def test_checkpoint_over_a_file_size_limit_says_disk_full_in_one_line(tmp_path):
    """RLIMIT_FSIZE is a real kernel limit (EFBIG), set on the training process only."""
    from spire_lm_helpers import subprocess_env

    exp = tmp_path / "exp"

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # EFBIG instead of death by signal
        resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000))

    out = subprocess.run([sys.executable, "-m", "espnet_spire.bin.spire_lm_train",
                          *map(str, _tiny_training(tmp_path, exp))],
                         capture_output=True, text=True, env=subprocess_env(), cwd=ROOT,
                         preexec_fn=limit, timeout=300)
    assert out.returncode == 2, out.stderr[-3000:]
    last = out.stderr.strip().splitlines()[-1]
    assert last == f"Error: [Errno 27] disk full: {exp / 'checkpoint.pth'} (File too large)", last
    assert "Traceback" not in out.stderr
    assert _stray_temporaries(exp) == []


@pytest.mark.slow
@pytest.mark.integration
def test_train_lm_sh_names_a_changed_config_in_one_line(recipe, tmp_path):
    """What stage 8/11 shows: train_lm.sh repeats the trainer's "Error:" line (no traceback hunt)."""
    import yaml

    from spire_lm_helpers import make_data, make_tiny_llama

    model = make_tiny_llama(tmp_path / "model")
    make_data(tmp_path / "data", "cpt", n_train=8, n_valid=4)
    conf = dict(batch_type="sorted", batch_size=8, max_epoch=1, optim="adamw",
                optim_conf={"lr": 0.003}, num_workers=0, keep_nbest_models=1,
                use_matplotlib=False, attn_implementation="eager", hf_export_dtype="float32")
    exp = recipe / "exp" / "train_x" / "spirebase"

    def train(max_epoch):
        cfg = tmp_path / f"train_x_{max_epoch}.yaml"
        cfg.write_text(yaml.safe_dump({**conf, "max_epoch": max_epoch}))
        return subprocess.run(
            ["scripts/train_lm.sh", "--python", sys.executable, "--nthreads", "1",
             str(exp), str(model), str(tmp_path / "data"), str(cfg)],
            cwd=recipe, env=ENV, capture_output=True, text=True, timeout=300)

    first = train(1)
    assert first.returncode == 0, first.stderr[-3000:]
    again = train(2)
    assert again.returncode == 1
    assert f"Error: training {exp} failed (see {exp}/train.log)" in again.stderr
    assert f"Error: {exp}: the training config changed since this experiment started" in again.stderr
    assert "max_epoch: 1 -> 2" in again.stderr
    assert "Traceback" not in again.stderr
    assert not (exp / "2epoch.pth").exists()


# ---------------------------------------------------------------- item 10: bad data, named
def test_utterance_id_sclite_cannot_take_is_named_before_scoring(tmp_path):
    """Before: sclite misread '(spk-a(1))' and stage 13 said "sclite and the Python scorer
    disagree"; now the id and the reason are named, with or without sclite."""
    from espnet_spire.data.validate import describe, validate_data_dir

    data = tmp_path / "data" / "test"
    data.mkdir(parents=True)
    (data / "text").write_text("spk-a(1) hello world\nspk-b good morning\n")
    (data / "utt2spk").write_text("spk-a(1) spk\nspk-b spk\n")
    hyp_dir = tmp_path / "decode" / "asr"
    hyp_dir.mkdir(parents=True)
    (hyp_dir / "text").write_text("spk-a(1) hello word\nspk-b good morning\n")
    out = subprocess.run(
        [sys.executable, "-m", "espnet_spire.bin.score_decode_dir", "--task", "asr",
         "--ref", str(data / "text"), "--hyp_dir", str(hyp_dir)],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT),
                                             "PATH": "/usr/lib/sctk/bin:" + os.environ["PATH"]})
    assert out.returncode == 1, out.stderr
    assert (f"score_decode_dir: ERROR: {data / 'text'}: utterance id 'spk-a(1)' (1 such ids): "
            "WER scoring writes sclite trn files") in out.stderr
    assert "disagree" not in out.stderr and "Traceback" not in out.stderr
    # the data check says so already at stage 1
    res = validate_data_dir(data, check_audio=False)
    assert any("id 'spk-a(1)' has '(' or ')': WER scoring (stage 13) cannot take it" in w
               for w in describe(res.first_warnings()))


def test_duplicate_wav_scp_id_is_named_with_file_and_line(tmp_path):
    """Before: a traceback in the stage-2 job log; now one line, repeated by the launcher."""
    import numpy as np
    import soundfile as sf

    sf.write(tmp_path / "a.wav", (np.sin(np.arange(8000) / 5) * 0.3).astype("float32"), 16000,
             subtype="PCM_16")
    d = tmp_path / "d"
    d.mkdir()
    (d / "wav.scp").write_text(f"u1 {tmp_path}/a.wav\nu1 {tmp_path}/a.wav\nu2 {tmp_path}/a.wav\n")
    (d / "text").write_text("u1 hi\nu2 ho\n")
    (d / "utt2spk").write_text("u1 s\nu2 s\n")
    (tmp_path / "keys").write_text("u1\nu2\n")
    out = subprocess.run(
        [str(DEMO / "utils" / "launch_local.sh"), "JOB=1:1", "out/log.JOB", sys.executable, "-m",
         "espnet_spire.bin.format_wav_scp", "--data_dir", "d", "--key_file", "keys",
         "--out_dir", "out", "--job", "JOB", "--fs", "16000", "--audio_format", "wav"],
        cwd=tmp_path, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 1
    assert "1 / 1 failed, log is in out/log.1" in out.stderr
    assert "ERROR: d/wav.scp:2: duplicate id 'u1'" in out.stderr
    assert "Traceback" not in (tmp_path / "out" / "log.1").read_text()


def test_an_accepted_config_change_holds_for_every_rank_until_the_next_checkpoint(tmp_path):
    """Ranks decide alone (rank 0 writes the record): each must restart the optimizer while the
    checkpoint the change was accepted on is the one resumed, and only then."""
    import argparse

    from espnet_spire.train.config_guard import (
        RECORD,
        TrainingConfigChanged,
        check_training_config,
    )

    def args(lr, **kw):
        base = dict(output_dir=str(tmp_path), resume=True, optim_conf={"lr": lr}, ngpu=0,
                    use_deepspeed=False, resume_with_new_config=False)
        return argparse.Namespace(**{**base, **kw})

    assert check_training_config(args(0.1)) is False          # first start: recorded
    ckpt = tmp_path / "checkpoint.pth"
    ckpt.write_bytes(b"epoch 1")
    assert check_training_config(args(0.1, ngpu=8)) is False  # GPU count is not the config
    new = dict(resume_with_new_config=True)
    assert check_training_config(args(0.2, **new), write=False) is True   # rank 1, before rank 0
    assert check_training_config(args(0.2, **new)) is True                # rank 0 records it
    assert check_training_config(args(0.2, **new), write=False) is True   # rank 1, after
    assert check_training_config(args(0.2)) is True           # killed before a new checkpoint
    os.utime(ckpt, ns=(1, 1))                                 # the next epoch saved one
    assert check_training_config(args(0.2)) is False
    with pytest.raises(TrainingConfigChanged, match=r"optim_conf: \{'lr': 0\.2\} -> \{'lr': 0\.3\}"):
        check_training_config(args(0.3))
    with pytest.raises(TrainingConfigChanged, match="not supported with DeepSpeed yet"):
        check_training_config(args(0.3, resume_with_new_config=True, use_deepspeed=True))
    assert "previous" in (tmp_path / RECORD).read_text()


def test_bad_line_of_a_stage2_copy_names_the_data_dir_file(tmp_path):
    """Stage 2's dump copies text/utt2spk from data/<set>: a bad line found there names the
    data/ file to fix, not only the dump/raw copy."""
    import numpy as np
    import soundfile as sf

    from espnet_spire.audio.format_job import FormatOptions, merge_jobs, run_format_job
    from espnet_spire.common.kaldi_dir import SOURCE_FILE
    from espnet_spire.data.validate import describe, validate_data_dir

    sf.write(tmp_path / "a.wav", (np.sin(np.arange(8000) / 5) * 0.3).astype("float32"), 16000,
             subtype="PCM_16")
    data = tmp_path / "data" / "x"
    data.mkdir(parents=True)
    (data / "wav.scp").write_text(f"u1 {tmp_path}/a.wav\nu2 {tmp_path}/a.wav\n")
    (data / "text").write_text("u1 hello (1)\nu2\n")           # an empty transcript
    (data / "utt2spk").write_text("u1 s\nu2 s\n")
    out = tmp_path / "dump" / "raw" / "x"
    run_format_job(data, ["u1", "u2"], out, 1, FormatOptions())
    merge_jobs(data, out, 1)
    assert (out / SOURCE_FILE).read_text() == f"{data}\n"
    res = validate_data_dir(out, check_audio=False)
    msgs = describe(res.first_warnings())
    assert f"{out}/text:2: [empty value] id 'u2' has no value (a copy of {data}/text: fix it there)" \
        in msgs, msgs


def test_stage2_names_ids_of_data_files_that_are_not_utterances(tmp_path, caplog):
    """A text line whose id is not in wav.scp (a data dir edited after stage 1's check) was
    dropped from the dump without a word; now a warning names the file, the count and the id."""
    import numpy as np
    import soundfile as sf

    from espnet_spire.audio.format_job import merge_jobs, run_format_job

    sf.write(tmp_path / "a.wav", (np.sin(np.arange(8000) / 5) * 0.3).astype("float32"), 16000)
    data = tmp_path / "data"
    data.mkdir()
    (data / "wav.scp").write_text(f"u1 {tmp_path}/a.wav\n")
    (data / "text").write_text("u1 hello\nu2 lost\nu3 lost too\n")
    (data / "utt2spk").write_text("u1 s\n")
    out = tmp_path / "dump"
    run_format_job(data, ["u1"], out, 1)
    with caplog.at_level("WARNING"):
        merge_jobs(data, out, 1)
    assert f"{data}/text: 2 ids not in wav.scp ('u2', 'u3'), not copied" in caplog.text
    assert "utt2spk" not in caplog.text
    assert (out / "text").read_text() == "u1 hello\n"
