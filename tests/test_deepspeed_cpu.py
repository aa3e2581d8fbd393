"""DeepSpeed on CPU: 2 processes (torchrun, gloo), ZeRO-2 and ZeRO-3 with the recipe's bf16
JSON configs, checkpoints in ESPnet's layout, resume from a DeepSpeed checkpoint, HF export; and
one process without any launcher (ESPnet's own DeepSpeed trainer would not engage there)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from spire_lm_helpers import (
    REPO,
    base_args,
    epoch_values,
    make_data,
    make_tiny_llama,
    read_reporter,
    subprocess_env,
    train_subprocess,
)

# Two-process DeepSpeed runs (gloo) and a JIT-built op: minutes on 2 cores.
pytestmark = [pytest.mark.slow, pytest.mark.integration]
pytest.importorskip("deepspeed")
DS_CONF = REPO / "egs2/spire/spire1/conf/deepspeed"
DRIVER = Path(__file__).resolve().parent / "spire_lm_ds_driver.py"


def _ds_args(root, exp, zero, max_epoch, **kw):
    return [str(a) for a in base_args(
        root / "model", exp, root / "data/train", root / "data/valid",
        max_epoch=max_epoch, use_matplotlib="false", use_deepspeed="true",
        deepspeed_config=DS_CONF / f"{zero}.json",
        # a fixed schedule length, so that a resumed run and a straight run follow the same lr
        scheduler_conf='{"warmup_steps": 2, "total_steps": 12}', **kw)]


def _torchrun(root, name, runs_args, timeout=400):
    """One ``torchrun --nproc_per_node 2`` launch running the given trainings in turn."""
    runs = root / f"{name}.json"
    runs.write_text(json.dumps(runs_args))
    log = root / f"{name}.log"
    env = subprocess_env(threads=1)
    with open(log, "w") as f:
        proc = subprocess.run(
            [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
             "--standalone", str(DRIVER), str(runs)],
            stdout=f, stderr=subprocess.STDOUT, cwd=REPO, env=env, timeout=timeout,
        )
    text = log.read_text()
    assert proc.returncode == 0, text[-4000:]
    return text


def _reporter(exp: Path, epoch: int):
    """The ESPnet reporter saved as DeepSpeed client state (rank 0's model-states file)."""
    d = exp / f"checkpoint_{epoch}" / str(epoch)
    path = d / "mp_rank_00_model_states.pt"  # ZeRO-0/1/2
    if not path.exists():
        path = d / "zero_pp_rank_0_mp_rank_00_model_states.pt"  # ZeRO-3
    return torch.load(path, map_location="cpu", weights_only=False)["reporter"]


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    root = tmp_path_factory.mktemp("spire_ds")
    make_tiny_llama(root / "model")
    make_data(root / "data", "cpt", n_train=32, n_valid=8)
    out = dict(root=root, z2=root / "exp_z2", z2r=root / "exp_z2_resumed", z3=root / "exp_z3")
    # launch 1: ZeRO-2, 3 epochs, all DeepSpeed checkpoints kept (the reference for the resume
    # test); then ZeRO-3, 2 epochs
    log = _torchrun(root, "first", [
        _ds_args(root, out["z2"], "zero2", 3, deepspeed_keep_checkpoints=3),
        _ds_args(root, out["z3"], "zero3", 2, deepspeed_epoch_weights="fp32"),
    ])
    marker = "DeepSpeed engine on cpu: ZeRO stage 3"
    out["z2_log"], rest = log.split(marker, 1)
    out["z3_log"] = marker + rest
    # launch 2 (fresh processes): a copy of the ZeRO-2 experiment as it was after epoch 2,
    # resumed and continued to epoch 3
    out["z2r"].mkdir()
    for e in (1, 2):
        shutil.copytree(out["z2"] / f"checkpoint_{e}", out["z2r"] / f"checkpoint_{e}")
    out["z2r_log"] = _torchrun(root, "resume", [
        _ds_args(root, out["z2r"], "zero2", 3, resume="true")])
    return out


def _assert_trained(exp: Path, log: str, epochs: int, stage: int, dtype: torch.dtype):
    assert f"ZeRO stage {stage}, world 2" in log and "DeepSpeed engine on cpu" in log, log[-2000:]
    rep = _reporter(exp, epochs)
    tr, va = epoch_values(rep, "train", "loss"), epoch_values(rep, "valid", "loss")
    assert len(tr) == epochs and tr[-1] < tr[0] - 0.2 and va[-1] < va[0], (tr, va)
    # ESPnet layout: consolidated fp32 weights per epoch, latest/best links, HF export
    assert (exp / f"checkpoint_{epochs}" / "latest").read_text().strip() == str(epochs)
    assert (exp / "latest.pth").resolve().name == f"{epochs}epoch.pth"
    assert (exp / "valid.loss.best.pth").exists()
    assert yaml.safe_load((exp / "config.yaml").read_text())["use_deepspeed"] is True
    weights = torch.load(exp / f"{epochs}epoch.pth", map_location="cpu")
    assert all(v.dtype == dtype for v in weights.values())
    from safetensors.torch import load_file

    hf = load_file(str(exp / "hf_model" / "model.safetensors"))  # exported as float32
    for name in ("model.embed_tokens.weight", "lm_head.weight", "model.norm.weight"):
        assert torch.equal(hf[name], weights["lm." + name].float()), name
    return weights


def test_zero2_two_processes_train_and_checkpoint(ds):
    # --deepspeed_epoch_weights module (default): the bf16 weights the engine computes with
    _assert_trained(ds["z2"], ds["z2_log"], 3, 2, torch.bfloat16)
    shards = list((ds["z2"] / "checkpoint_3" / "3").glob("*optim_states.pt"))
    assert len(shards) == 2  # one optimizer partition per rank


def test_zero2_resume_continues_from_the_checkpoint(ds):
    assert "Resumed from" in ds["z2r_log"] and "checkpoint_2" in ds["z2r_log"]
    assert "1epoch results" not in ds["z2r_log"] and "3epoch results" in ds["z2r_log"]
    ref = torch.load(ds["z2"] / "3epoch.pth", map_location="cpu")
    res = torch.load(ds["z2r"] / "3epoch.pth", map_location="cpu")
    diff = max((ref[k].float() - res[k].float()).abs().max().item() for k in ref)
    assert diff <= 1e-6, diff
    a = epoch_values(_reporter(ds["z2"], 3), "valid", "loss")
    b = epoch_values(_reporter(ds["z2r"], 3), "valid", "loss")
    assert a == pytest.approx(b, abs=1e-6)
    # older DeepSpeed checkpoints are pruned (--deepspeed_keep_checkpoints 1)
    assert not (ds["z2r"] / "checkpoint_2").exists()


def test_zero3_two_processes_train_and_checkpoint(ds):
    # --deepspeed_epoch_weights fp32: the fp32 master weights, gathered from both partitions
    w = _assert_trained(ds["z3"], ds["z3_log"], 2, 3, torch.float32)
    assert w["lm.model.embed_tokens.weight"].shape == (320, 64)
    states = list((ds["z3"] / "checkpoint_2" / "2").glob("zero_pp_rank_*_model_states.pt"))
    assert len(states) == 2  # weights are partitioned too


def test_single_process_without_launcher(tmp_path, caplog):
    """--use_deepspeed true, --ngpu 0, no launcher (in this process): a one-process gloo group.

    ESPnet's DeepSpeed branch would fall back to the plain trainer without the group of one.
    """
    import torch.distributed as dist

    from espnet_spire.tasks.spire_lm import SpireLMTask

    root = tmp_path
    make_tiny_llama(root / "model")
    make_data(root / "data", "cpt", n_train=32, n_valid=8)
    exp = root / "exp"
    env = dict(os.environ)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    caplog.set_level("INFO")
    try:
        SpireLMTask.main(cmd=_ds_args(root, exp, "zero2", 2))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
        os.environ.clear()
        os.environ.update(env)
        torch.set_num_threads(threads)
    assert "ZeRO stage 2, world 1" in caplog.text
    assert (exp / "2epoch.pth").exists() and (exp / "hf_model" / "config.json").exists()
    assert (exp / "checkpoint_2" / "latest").exists() and not (exp / "checkpoint_1").exists()
    va = epoch_values(_reporter(exp, 2), "valid", "loss")
    assert va[-1] < va[0]


def _layout(exp: Path) -> dict:
    """The ESPnet bookkeeping files of an exp dir: weights, links (with targets) and averages."""
    out = {}
    for p in sorted(exp.glob("*.pth")):
        if p.name != "checkpoint.pth":  # ESPnet's Trainer only (DeepSpeed: checkpoint_<N>/)
            out[p.name] = p.resolve().name if p.is_symlink() else "file"
    return out


def test_side_by_side_with_espnet_trainer(tmp_path):
    """The same training through ESPnet's ``Trainer.run`` (SpireTrainer) and through the
    DeepSpeed loop (fp32, ZeRO-2, one process) gives the same epoch weights, best links, n-best
    pruning and averages, and the same losses: the DeepSpeed loop keeps ESPnet's bookkeeping.
    Separate processes: DeepSpeed keeps its process groups for the life of a process.
    """
    root = tmp_path
    make_tiny_llama(root / "model")
    make_data(root / "data", "cpt", n_train=32, n_valid=8)
    ds_json = root / "zero2_fp32.json"
    cfg = json.loads((DS_CONF / "zero2.json").read_text())
    cfg.pop("bf16")
    ds_json.write_text(json.dumps(cfg))
    common = dict(max_epoch=3, keep_nbest_models=2, nbest_averaging_interval=2,
                  use_matplotlib="false", hf_export="false",
                  scheduler_conf='{"warmup_steps": 2, "total_steps": 12}')
    plain = [str(a) for a in base_args(root / "model", root / "plain", root / "data/train",
                                       root / "data/valid", **common)]
    deep = [str(a) for a in base_args(root / "model", root / "ds", root / "data/train",
                                      root / "data/valid", use_deepspeed="true",
                                      deepspeed_config=ds_json, **common)]
    for name, cmd in (("plain", plain), ("ds", deep)):
        log = root / f"{name}.log"
        assert train_subprocess(cmd, log).wait(timeout=400) == 0, log.read_text()[-4000:]
    assert "ZeRO stage 2, world 1" in (root / "ds.log").read_text()
    assert _layout(root / "plain") == _layout(root / "ds")
    assert "valid.loss.ave_2best.till2epoch.pth" in _layout(root / "ds")
    conf = yaml.safe_load((root / "ds" / "config.yaml").read_text())
    assert conf["use_deepspeed"] is True  # as given: ESPnet wrote it, nobody rewrote it
    for phase in ("train", "valid"):
        a = epoch_values(read_reporter(root / "plain"), phase, "loss")
        b = epoch_values(_reporter(root / "ds", 3), phase, "loss")
        assert a == pytest.approx(b, rel=1e-4), (phase, a, b)
