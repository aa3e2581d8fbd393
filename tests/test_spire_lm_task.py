"""The SPIRE LLM task: parser, configs, data, collation, masked loss, CPU training, HF export."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from recipe_paths import DEMO, PAPER
from spire_lm_helpers import (
    REPO,
    TOKENIZER_FILES,
    base_args,
    epoch_values,
    make_data,
    make_tiny_llama,
    read_reporter,
)

CONF = PAPER / "conf"            # the paper's configs
CONFS = (PAPER / "conf", DEMO / "conf")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("spire_lm")
    model = make_tiny_llama(root / "model")
    cpt_train, cpt_valid = make_data(root / "cpt", "cpt", n_train=32, n_valid=8)
    it_train, it_valid = make_data(root / "it", "it", n_train=24, n_valid=8, seed=1)
    return dict(root=root, model=model, cpt=(cpt_train, cpt_valid), it=(it_train, it_valid))


@pytest.fixture(scope="module")
def task():
    from espnet_spire.tasks.spire_lm import SpireLMTask

    return SpireLMTask


@pytest.fixture
def one_thread():
    """Deterministic, contention-free CPU numerics for the in-process trainings."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# ---------------------------------------------------------------------------- parser / configs
def test_parser_registries_and_required_model_dir(task, capsys):
    from espnet2.tasks import abs_task
    from espnet2.train import dataset

    parser = task.get_parser()
    args = parser.parse_args(
        ["--output_dir", "x", "--model_dir", "m", "--scheduler", "warmupcosinelr",
         "--max_len", "4096", "--gradient_checkpointing", "true"]
    )
    assert args.model_dir == "m" and args.max_len == 4096 and args.gradient_checkpointing
    assert args.num_att_plot == 0 and args.batch_type == "sorted"
    assert "warmupcosinelr" in abs_task.scheduler_classes
    assert "spire_text_int" in dataset.DATA_TYPES
    assert "model_dir" in args.required
    # --model_dir is required (like ESPnet's --token_list for the LM task)
    with pytest.raises(SystemExit) as e:
        task.check_required_command_args(parser.parse_args(["--output_dir", "x"]))
    assert e.value.code == 2
    assert "the following arguments are required: --model_dir" in capsys.readouterr().err
    assert task.required_data_names() == ("input_ids", "loss_mask")


def _conf(path):
    from espnet_spire.tasks.spire_lm import SpireLMTask

    return SpireLMTask.get_parser().parse_args(
        ["--config", str(path), "--output_dir", "x", "--model_dir", "m"]
    )


@pytest.mark.parametrize(
    "path", sorted(p for conf in CONFS for p in conf.glob("**/train_*.yaml")),
    ids=lambda p: p.relative_to(REPO / "egs2").as_posix(),
)
def test_every_training_config_parses(path):
    args = _conf(path)
    assert args.optim == "adamw" and args.scheduler == "warmupcosinelr"
    if args.use_deepspeed:
        recipe = next(conf.parent for conf in CONFS if conf in path.parents)
        assert (recipe / args.deepspeed_config).exists()


def test_full_scale_configs_match_the_paper():
    cpt = _conf(CONF / "train_cpt_spire.yaml")
    assert cpt.batch_size * cpt.accum_grad == 2304 and cpt.max_len == 4096
    it = _conf(CONF / "train_it_spire.yaml")
    assert it.batch_size * it.accum_grad == 576
    assert it.optim_conf["lr"] == pytest.approx(7e-6)
    assert it.optim_conf["weight_decay"] == pytest.approx(0.01)
    assert it.scheduler_conf["warmup_steps"] == 100 and it.max_epoch == 4 and it.max_len == 4096
    for s in ("cpt", "it"):
        base = _conf(CONF / f"train_{s}_spire.yaml")
        for z in (2, 3):
            ds = _conf(CONF / f"tuning/train_{s}_spire_deepspeed_zero{z}.yaml")
            assert ds.use_deepspeed and ds.deepspeed_config.endswith(f"zero{z}.json")
            for key in ("batch_size", "accum_grad", "optim_conf", "scheduler_conf", "max_epoch",
                        "max_len", "grad_clip"):
                assert getattr(ds, key) == getattr(base, key), key


def test_deepspeed_json_configs():
    for z in (2, 3):
        cfg = json.loads((CONF / f"deepspeed/zero{z}.json").read_text())
        assert cfg["zero_optimization"]["stage"] == z
        assert cfg["bf16"]["enabled"] is True
        assert "optimizer" not in cfg and "scheduler" not in cfg  # they come from the YAML
    from espnet_spire.train.deepspeed_trainer import resolve_deepspeed_config

    r = resolve_deepspeed_config(cfg, batch_size=32, accum_grad=72, grad_clip=1.0, world_size=8)
    assert r["train_micro_batch_size_per_gpu"] == 4 and r["gradient_accumulation_steps"] == 72
    assert r["train_batch_size"] == 2304 and r["gradient_clipping"] == 1.0


# ---------------------------------------------------------------------------- data
def test_lazy_reader_matches_espnet_text_int(tiny):
    from espnet2.fileio.read_text import load_num_sequence_text

    from espnet_spire.train.data import LazyTextIntReader

    path = tiny["it"][0] / "input_ids"
    ref = load_num_sequence_text(path, loader_type="text_int")
    lazy = LazyTextIntReader(path)
    assert list(lazy) == list(ref)
    for k in ref:
        np.testing.assert_array_equal(lazy[k], np.array(ref[k]))
    sub = LazyTextIntReader(path, keys_to_load={"utt00003"})
    assert list(sub) == ["utt00003"]


def test_collate_pads_ids_with_pad_id_and_mask_with_zero():
    from espnet_spire.train.data import SpireLMCollateFn

    data = [
        ("a", dict(input_ids=np.array([5, 6, 7]), loss_mask=np.array([0, 1, 1]))),
        ("b", dict(input_ids=np.array([8, 9, 10, 11, 12]), loss_mask=np.array([0, 0, 1, 1, 1]))),
    ]
    keys, batch = SpireLMCollateFn(pad_id=2)(data)
    assert keys == ["a", "b"]
    assert batch["input_ids"].tolist() == [[5, 6, 7, 2, 2], [8, 9, 10, 11, 12]]
    assert batch["loss_mask"].tolist() == [[0, 1, 1, 0, 0], [0, 0, 1, 1, 1]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
    assert batch["input_ids_lengths"].tolist() == [3, 5]
    assert batch["input_ids"].dtype == torch.long
    with pytest.raises(ValueError, match="c: loss_mask has 1 values, input_ids 2"):
        SpireLMCollateFn(0)([("c", dict(input_ids=np.array([1, 2]), loss_mask=np.array([1])))])


def test_preprocess_checks():
    from espnet_spire.train.data import SpireLMPreprocessor

    pre = SpireLMPreprocessor(vocab_size=10, max_len=4)
    out = pre("u", dict(input_ids=np.array([1, 2, 3]), loss_mask=np.array([0, 1, 1])))
    assert out["loss_mask"].tolist() == [0, 1, 1]
    for bad, message in (
        (dict(input_ids=np.array([1, 12]), loss_mask=np.array([0, 1])), r"token id out of range \[0, 10\)"),
        (dict(input_ids=np.array([1, 2]), loss_mask=np.array([0, 1, 1])), "loss_mask has 3 values, input_ids 2"),
        (dict(input_ids=np.array([1, 2]), loss_mask=np.array([0, 2])), "loss_mask must be 0/1"),
        (dict(input_ids=np.array([1, 2, 3, 4, 5]), loss_mask=np.array([1] * 5)), "5 tokens > --max_len 4"),
    ):
        with pytest.raises(ValueError, match=f"^u: {message}"):
            pre("u", bad)


def test_max_len_drops_long_samples_from_the_shape_file(tmp_path):
    from espnet_spire.train.data import prepare_shape_files
    from spire_lm_helpers import write_split

    d = write_split(tmp_path / "d", [([1] * n, [1] * n) for n in (3, 9, 5, 12)])
    spec = [(str(d / "input_ids"), "input_ids", "spire_text_int")]
    shapes = prepare_shape_files(spec, [], tmp_path / "shape", max_len=6)
    lines = Path(shapes[0]).read_text().split("\n")
    assert [ln for ln in lines if ln] == ["utt00000 3", "utt00002 5"]
    full = prepare_shape_files(spec, [], tmp_path / "shape2", max_len=None)
    assert len(Path(full[0]).read_text().split()) == 8


# ---------------------------------------------------------------------------- masked loss
@pytest.fixture(scope="module")
def wrapped(tiny):
    from espnet_spire.lm.espnet_model import SpireLMModel

    m = SpireLMModel.from_pretrained(str(tiny["model"]), attn_implementation="eager")
    return m.eval()


def _loss(model, ids, mask, attn=None):
    ids = torch.tensor(ids).view(1, -1) if not torch.is_tensor(ids) else ids
    mask = torch.tensor(mask).view(1, -1) if not torch.is_tensor(mask) else mask
    with torch.no_grad():
        loss, stats, weight = model(input_ids=ids, loss_mask=mask, attention_mask=attn)
    return loss.item(), stats, weight.item()


def test_loss_equals_hf_loss_with_ignored_labels(wrapped):
    ids = torch.tensor([[1, 20, 30, 40, 300, 40, 30, 20, 2]])
    mask = torch.tensor([[0, 0, 0, 0, 0, 1, 1, 1, 1]])
    ours, stats, weight = _loss(wrapped, ids, mask)
    labels = ids.masked_fill(mask == 0, -100)
    with torch.no_grad():
        ref = wrapped.lm(input_ids=ids, labels=labels).loss.item()
    assert ours == pytest.approx(ref, abs=1e-5)
    assert weight == 4 and stats["ntokens"].item() == 4
    # the full-logits implementation agrees with the selective one
    wrapped.loss_impl = "full"
    try:
        assert _loss(wrapped, ids, mask)[0] == pytest.approx(ours, abs=1e-5)
    finally:
        wrapped.loss_impl = "selective"


def test_masked_targets_do_not_change_the_loss_unmasked_ones_do(wrapped):
    ids = [1, 20, 30, 40, 300, 40, 30, 20, 2, 7, 8]
    mask = [0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0]  # the trailing 7 8 are not targets
    base = _loss(wrapped, ids, mask)[0]
    changed_masked = list(ids)
    changed_masked[9], changed_masked[10] = 100, 200
    assert _loss(wrapped, changed_masked, mask)[0] == base
    changed_target = list(ids)
    changed_target[8] = 150  # a target token (mask 1)
    assert abs(_loss(wrapped, changed_target, mask)[0] - base) > 1e-4
    # loss_mask[0] can never be a target (nothing predicts the first token)
    assert _loss(wrapped, ids, [1] + mask[1:])[0] == base


def test_padding_does_not_change_the_loss(wrapped):
    a_ids, a_mask = [1, 20, 30, 300, 30, 20, 2], [0, 0, 0, 0, 1, 1, 1]
    b_ids, b_mask = [1, 5, 6, 7, 8, 9, 300, 9, 8, 7, 6, 5, 2], [0] * 7 + [1] * 6
    la, _, wa = _loss(wrapped, a_ids, a_mask)
    lb, _, wb = _loss(wrapped, b_ids, b_mask)
    pad = 2
    ids = torch.tensor([a_ids + [pad] * 6, b_ids])
    mask = torch.tensor([a_mask + [0] * 6, b_mask])
    attn = torch.tensor([[1] * 7 + [0] * 6, [1] * 13])
    both, _, w = _loss(wrapped, ids, mask, attn)
    assert w == wa + wb
    assert both == pytest.approx((la * wa + lb * wb) / (wa + wb), abs=1e-5)


def test_gradient_checkpointing_gives_the_same_gradients(tiny):
    from espnet_spire.lm.espnet_model import SpireLMModel

    ids = torch.tensor([[1, 20, 30, 40, 300, 40, 30, 20, 2]])
    mask = torch.tensor([[0, 0, 0, 0, 0, 1, 1, 1, 1]])
    grads = []
    for ckpt in (False, True):
        m = SpireLMModel.from_pretrained(str(tiny["model"]), attn_implementation="eager",
                                         gradient_checkpointing=ckpt).train()
        loss, _, _ = m(input_ids=ids, loss_mask=mask)
        loss.sum().backward()
        grads.append(m.lm.model.layers[0].mlp.up_proj.weight.grad.clone())
    assert any(getattr(mod, "gradient_checkpointing", False) for mod in m.lm.modules())
    torch.testing.assert_close(grads[0], grads[1])


def test_out_of_range_token_is_reported(wrapped):
    with pytest.raises(ValueError, match="out of range"):
        _loss(wrapped, [1, 5, 320], [0, 1, 1])


def test_warmup_cosine_schedule():
    from espnet_spire.train.scheduler import WarmupCosineLR

    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sch = WarmupCosineLR(opt, warmup_steps=4, total_steps=14, min_lr_ratio=0.1)
    lrs = []
    for _ in range(16):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sch.step()
    assert lrs[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert lrs[8] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert lrs[13:] == pytest.approx([0.1, 0.1, 0.1])
    assert all(a >= b for a, b in zip(lrs[3:], lrs[4:]))


def test_total_optimizer_steps_of_both_loops():
    from espnet_spire.train.scheduler import total_optimizer_steps

    # ESPnet's Trainer: 10 batches, accumulation 4 -> 2 updates per epoch (restarts each epoch)
    assert total_optimizer_steps(10, 4, 3, accumulate_across_epochs=False) == 6
    # DeepSpeed counts micro-batches over the run: 30 // 4
    assert total_optimizer_steps(10, 4, 3, accumulate_across_epochs=True) == 7
    assert total_optimizer_steps(2, 4, 1, accumulate_across_epochs=False) == 1  # at least one


# ---------------------------------------------------------------------------- training
def _assert_exp_layout(exp: Path, last_epoch: int):
    assert (exp / "config.yaml").exists()
    assert (exp / "checkpoint.pth").exists()
    assert (exp / "latest.pth").is_symlink()
    assert (exp / "latest.pth").resolve().name == f"{last_epoch}epoch.pth"
    assert (exp / "valid.loss.best.pth").exists() and (exp / "valid.loss.ave.pth").exists()
    assert (exp / "images" / "loss.png").exists() and (exp / "images" / "acc.png").exists()
    conf = yaml.safe_load((exp / "config.yaml").read_text())
    assert conf["model_dir"] and "input_ids" in str(conf["train_data_path_and_name_and_type"])


def _hf_logits(model_dir, ids):
    from transformers import AutoModelForCausalLM

    m = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True,
                                             attn_implementation="eager").eval()
    with torch.no_grad():
        return m(input_ids=ids).logits


@pytest.mark.slow
def test_cpu_training_reduces_the_loss_and_writes_the_exp_dir(tiny, task, tmp_path, one_thread):
    exp = tmp_path / "exp"
    train, valid = tiny["cpt"]
    task.main(cmd=base_args(tiny["model"], exp, train, valid, max_epoch=3))

    rep = read_reporter(exp)
    tr, va = epoch_values(rep, "train", "loss"), epoch_values(rep, "valid", "loss")
    assert len(va) == 3
    assert tr[-1] < tr[0] - 0.3 and va[-1] < va[0] - 0.1, (tr, va)
    assert tr[0] == pytest.approx(math.log(320), abs=0.3)  # random init: ~uniform
    _assert_exp_layout(exp, 3)

    # the Hugging Face export = the final weights, with the tokenizer files of the input dir
    hf = exp / "hf_model"
    for name, text in TOKENIZER_FILES.items():
        assert (hf / name).read_text() == text
    info = json.loads((hf / "spire.json").read_text())["provenance"]
    assert info["checkpoint"] == "3epoch.pth" and info["init"] == "model"
    from espnet_spire.lm.espnet_model import SpireLMModel

    trained = SpireLMModel.from_pretrained(str(tiny["model"]), attn_implementation="eager")
    trained.load_state_dict(torch.load(exp / "3epoch.pth", map_location="cpu"))
    ids = torch.tensor([[1, 5, 9, 13, 17, 21, 300]])
    with torch.no_grad():
        ref = trained.lm.eval()(input_ids=ids).logits
    assert torch.equal(_hf_logits(hf, ids), ref)
    before = _hf_logits(tiny["model"], ids)
    assert not torch.allclose(before, ref)

    # the exporter exports any checkpoint of the exp dir
    from espnet_spire.train.export import export_training_result

    out = tmp_path / "best_hf"
    assert export_training_result(exp, str(tiny["model"]), "valid.loss.best", out, "bfloat16") == out
    cfg = json.loads((out / "config.json").read_text())
    assert cfg.get("dtype", cfg.get("torch_dtype")) == "bfloat16"
    assert (out / "spire_tokenizer.json").exists()


def test_it_smoke_config_honours_max_len_and_runs(tiny, task, tmp_path, one_thread):
    """conf/train_it_smoke.yaml on IT data (loss on the responses only), text_int reader."""
    exp = tmp_path / "exp_it"
    train, valid = tiny["it"]
    lengths = [len(line.split()) - 1 for line in (train / "input_ids").read_text().splitlines()]
    max_len = sorted(lengths)[len(lengths) // 2]
    cmd = ["--config", str(DEMO / "conf/train_it_smoke.yaml"), "--model_dir", str(tiny["model"]),
           "--output_dir", str(exp), "--ngpu", "0", "--max_len", str(max_len),
           "--use_matplotlib", "false"]
    for mode, d in (("train", train), ("valid", valid)):
        for name in ("input_ids", "loss_mask"):
            cmd += [f"--{mode}_data_path_and_name_and_type", f"{d}/{name},{name},text_int"]
    task.main(cmd=cmd)
    rep = read_reporter(exp)
    assert len(epoch_values(rep, "valid", "loss")) == 2
    shape = (exp / "shape/train" / f"input_ids_shape.max{max_len}").read_text().splitlines()
    assert len(shape) == sum(n <= max_len for n in lengths) < len(lengths)
    assert (exp / "hf_model" / "model.safetensors").exists()
