"""Shared fixtures of the SPIRE LM training tests: a random tiny Llama and synthetic LM data.

Nothing is downloaded: the model is a randomly initialised ``LlamaForCausalLM`` (hidden 64,
2 layers, 4 heads, 2 KV heads) saved to a temporary directory, next to two fake tokenizer files
(the export must copy them).  Data follow the builders' contract: ``input_ids`` and ``loss_mask``
Kaldi-style files with the same sorted keys, plus ``stats.json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List, Sequence, Tuple

import numpy as np

from lm_fixtures import tiny_llama

REPO = Path(__file__).resolve().parents[1]
VOCAB = 320  # a multiple of 64, like the padded SPIRE embeddings
TOKENIZER_FILES = {
    "tokenizer_config.json": '{"model_max_length": 256}\n',
    "spire_tokenizer.json": '{"fake": true}\n',
}

# DeepSpeed JIT-builds a few ops on CPU; keep them in the repo's ignored tools/ dir.
os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(REPO / "tools" / "torch_extensions"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def make_tiny_llama(path: Path, vocab: int = VOCAB, seed: int = 0) -> Path:
    """:func:`lm_fixtures.tiny_llama` (256 positions, pad = eos) saved with the fake tokenizer files."""
    model = tiny_llama(vocab, seed=seed, max_positions=256, pad_token_id=2)
    path = Path(path)
    model.save_pretrained(path)
    for name, text in TOKENIZER_FILES.items():
        (path / name).write_text(text)
    return path


def cpt_sample(rng: np.random.Generator, length: int) -> Tuple[List[int], List[int]]:
    """A packed-CPT-like sample: arithmetic runs (learnable), loss on every token."""
    ids = []
    while len(ids) < length:
        start, step = int(rng.integers(3, 200)), int(rng.choice([1, 2, 3]))
        ids.extend((start + step * np.arange(int(rng.integers(6, 16)))) % 250 + 3)
    ids = [int(x) for x in ids[:length]]
    return ids, [1] * length


def it_sample(rng: np.random.Generator, prompt_len: int) -> Tuple[List[int], List[int]]:
    """An IT-like sample: prompt, separator 300, response = reversed prompt; loss on response."""
    prompt = [int(x) for x in rng.integers(3, 250, size=prompt_len)]
    ids = [1] + prompt + [300] + prompt[::-1] + [2]
    mask = [0] * (len(prompt) + 2) + [1] * (len(prompt) + 1)
    return ids, mask


def write_split(path: Path, samples: Sequence[Tuple[List[int], List[int]]], prefix="utt") -> Path:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    keys = [f"{prefix}{i:05d}" for i in range(len(samples))]
    with open(path / "input_ids", "w") as fi, open(path / "loss_mask", "w") as fm:
        for k, (ids, mask) in sorted(zip(keys, samples)):
            assert len(ids) == len(mask)
            fi.write(k + " " + " ".join(map(str, ids)) + "\n")
            fm.write(k + " " + " ".join(map(str, mask)) + "\n")
    stats = dict(
        num_samples=len(samples),
        num_tokens=int(sum(len(s[0]) for s in samples)),
        num_target_tokens=int(sum(sum(s[1]) for s in samples)),
    )
    (path / "stats.json").write_text(json.dumps(stats) + "\n")
    return path


def make_data(root: Path, kind: str = "cpt", n_train: int = 32, n_valid: int = 8, seed: int = 0):
    rng = np.random.default_rng(seed)
    if kind == "cpt":
        make = lambda: cpt_sample(rng, 48)  # noqa: E731
    else:
        make = lambda: it_sample(rng, int(rng.integers(4, 20)))  # noqa: E731
    train = write_split(Path(root) / "train", [make() for _ in range(n_train)])
    valid = write_split(Path(root) / "valid", [make() for _ in range(n_valid)])
    return train, valid


def data_args(train: Path, valid: Path, dtype: str = "spire_text_int") -> List[str]:
    out = []
    for mode, d in (("train", train), ("valid", valid)):
        for name in ("input_ids", "loss_mask"):
            out += [f"--{mode}_data_path_and_name_and_type", f"{d}/{name},{name},{dtype}"]
    return out


def base_args(model_dir: Path, output_dir: Path, train: Path, valid: Path, **over) -> List[str]:
    """A small, fast, deterministic CPU training command (ESPnet options)."""
    opts = dict(
        model_dir=model_dir,
        output_dir=output_dir,
        ngpu=0,
        seed=0,
        num_workers=0,
        batch_type="sorted",
        batch_size=8,
        max_epoch=2,
        optim="adamw",
        optim_conf='{"lr": 0.003, "weight_decay": 0.0}',
        scheduler="warmupcosinelr",
        scheduler_conf='{"warmup_steps": 2}',
        grad_clip=1.0,
        keep_nbest_models=1,
        log_interval=100,
        use_matplotlib=True,
        use_tensorboard=False,
        attn_implementation="eager",
        hf_export_dtype="float32",
    )
    opts.update(over)
    args = []
    for k, v in opts.items():
        args += [f"--{k}", str(v)]
    return args + data_args(train, valid)


def subprocess_env(threads: int = 1) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = str(threads)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def train_subprocess(args: Sequence[str], log: Path, **kw) -> subprocess.Popen:
    with open(log, "w") as f:
        return subprocess.Popen(
            [sys.executable, "-m", "espnet_spire.bin.spire_lm_train", *map(str, args)],
            stdout=f, stderr=subprocess.STDOUT, cwd=REPO, env=subprocess_env(), **kw,
        )


def read_reporter(exp_dir: Path):
    """The ESPnet reporter state saved in checkpoint.pth."""
    import torch

    return torch.load(exp_dir / "checkpoint.pth", map_location="cpu", weights_only=False)[
        "reporter"
    ]


def epoch_values(reporter_state, phase: str, key: str) -> List[float]:
    """Per-epoch values of ``phase.key`` from a Reporter state dict."""
    from espnet2.train.reporter import Reporter

    r = Reporter()
    r.load_state_dict(reporter_state)
    return [r.get_value(phase, key, epoch=e) for e in range(1, r.get_epoch() + 1)]
