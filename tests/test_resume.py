"""Kill a CPU training with SIGKILL mid-run, ``--resume true`` it, and compare with a run that was
never interrupted: the final weights and every epoch's losses must be identical."""

import signal
import time

import pytest
import torch

from spire_lm_helpers import (
    base_args,
    epoch_values,
    make_data,
    make_tiny_llama,
    read_reporter,
    train_subprocess,
)

MAX_EPOCH = 5


@pytest.fixture
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # the killed subprocess runs with OMP_NUM_THREADS=1 too
    yield
    torch.set_num_threads(n)


def _wait_for(path, proc, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if path.exists():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.02)
    return False


@pytest.mark.fault
@pytest.mark.slow
@pytest.mark.integration
def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path, one_thread, caplog):
    from espnet_spire.tasks.spire_lm import SpireLMTask

    model = make_tiny_llama(tmp_path / "model")
    # 160 samples x 48 tokens: 20 mini-batches per epoch, so an epoch lasts long enough to be
    # interrupted in the middle.
    train, valid = make_data(tmp_path / "data", "cpt", n_train=160, n_valid=8)

    def args(exp, **kw):
        return base_args(model, exp, train, valid, max_epoch=MAX_EPOCH, resume="true",
                         keep_nbest_models=MAX_EPOCH, **kw)

    # The run to kill starts first; it imports while the reference trains in this process.
    killed = tmp_path / "exp_killed"
    proc = train_subprocess(args(killed, use_matplotlib="true"), tmp_path / "killed.log")
    try:
        ref = tmp_path / "exp_ref"
        SpireLMTask.main(cmd=args(ref, use_matplotlib="false"))

        reached = _wait_for(killed / "2epoch.pth", proc, timeout=240)
        assert reached, (tmp_path / "killed.log").read_text()[-3000:]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    interrupted_at = read_reporter(killed)["epoch"]
    assert 2 <= interrupted_at < MAX_EPOCH, "the run was not interrupted mid-training"
    assert not (killed / "hf_model").exists()
    kept = {e: (killed / f"{e}epoch.pth").stat().st_mtime_ns for e in range(1, interrupted_at + 1)}

    caplog.set_level("INFO")
    caplog.clear()
    SpireLMTask.main(cmd=args(killed, use_matplotlib="false"))
    # it continued after the last finished epoch instead of starting over
    assert "The training was resumed using" in caplog.text
    assert f"{interrupted_at + 1}/{MAX_EPOCH}epoch started" in caplog.text
    assert f"1/{MAX_EPOCH}epoch started" not in caplog.text
    assert all((killed / f"{e}epoch.pth").stat().st_mtime_ns == t for e, t in kept.items())

    rep_ref, rep_res = read_reporter(ref), read_reporter(killed)
    assert rep_res["epoch"] == rep_ref["epoch"] == MAX_EPOCH
    for phase in ("train", "valid"):
        a, b = epoch_values(rep_ref, phase, "loss"), epoch_values(rep_res, phase, "loss")
        assert a == pytest.approx(b, abs=1e-6, rel=0), (phase, a, b)
    va = epoch_values(rep_ref, "valid", "loss")
    assert va[-1] < va[0]
    w_ref = torch.load(ref / f"{MAX_EPOCH}epoch.pth", map_location="cpu")
    w_res = torch.load(killed / f"{MAX_EPOCH}epoch.pth", map_location="cpu")
    assert w_ref.keys() == w_res.keys()
    diff = max((w_ref[k].float() - w_res[k].float()).abs().max().item() for k in w_ref)
    assert diff <= 1e-6, diff
    assert (killed / "hf_model" / "model.safetensors").exists()


def test_resume_true_without_checkpoint_starts_afresh(tmp_path, one_thread):
    """``--resume true`` is what the recipe always passes: a first run must just start."""
    from espnet_spire.tasks.spire_lm import SpireLMTask

    model = make_tiny_llama(tmp_path / "model")
    train, valid = make_data(tmp_path / "data", "it", n_train=8, n_valid=4)
    exp = tmp_path / "exp"
    SpireLMTask.main(cmd=base_args(model, exp, train, valid, max_epoch=1, resume="true",
                                   use_matplotlib="false"))
    assert read_reporter(exp)["epoch"] == 1
    # a second call with the same max_epoch has nothing left to do and changes nothing
    before = (exp / "1epoch.pth").stat().st_mtime_ns
    SpireLMTask.main(cmd=base_args(model, exp, train, valid, max_epoch=1, resume="true",
                                   use_matplotlib="false"))
    assert (exp / "1epoch.pth").stat().st_mtime_ns == before
