"""Test helpers for COMET: the separate COMET environment and REAL tiny COMET checkpoints.

Nothing is downloaded or installed here.  The checkpoints are built with unbabel-comet itself
inside ``tools/comet_venv`` (installed by ``make install-comet``, which CI runs before the tests;
without it the tests that need it skip, or fail when ``CI=true``): a tiny random XLM-R encoder with
a locally trained sentencepiece tokenizer, wrapped in COMET's ``RegressionMetric`` (COMET-22
layout) or ``ReferencelessRegression`` (CometKiwi layout), saved as ``<dir>/checkpoints/model.ckpt``
+ ``<dir>/hparams.yaml`` like the hub models.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMET_PY = ROOT / "tools" / "comet_venv" / "bin" / "python"
STAMP = ROOT / "tools" / "comet_venv" / ".espnet_spire_comet_install"

_BUILD = r'''
import os, sys, json
os.environ["HF_HUB_OFFLINE"] = "1"; os.environ["TRANSFORMERS_OFFLINE"] = "1"
import warnings; warnings.filterwarnings("ignore")
import torch, yaml, sentencepiece as spm
import pytorch_lightning as pl
from transformers import XLMRobertaConfig, XLMRobertaModel, XLMRobertaTokenizerFast
out, kind, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
torch.manual_seed(seed)
enc = os.path.join(out, "encoder"); os.makedirs(enc, exist_ok=True)
text = os.path.join(out, "spm_train.txt")
lines = [
    "the cat sat on the mat", "hello world how are you", "a small model for tests",
    "die Katze sitzt auf der Matte", "le chat est sur le tapis", "el gato está en la alfombra",
    "il gatto è sul tappeto", "o gato está no tapete", "de kat zit op de mat",
    "кошка сидит на коврике", "猫坐在垫子上。", "고양이가 매트 위에 앉아 있어요.",
]
with open(text, "w", encoding="utf-8") as f:
    f.write("\n".join(lines * 3) + "\n")
spm.SentencePieceTrainer.train(
    input=text, model_prefix=os.path.join(enc, "sentencepiece.bpe"), vocab_size=120,
    model_type="unigram", character_coverage=1.0, hard_vocab_limit=False,
    bos_id=0, pad_id=1, eos_id=2, unk_id=3)
tok = XLMRobertaTokenizerFast(vocab_file=os.path.join(enc, "sentencepiece.bpe.model"))
tok.save_pretrained(enc)
cfg = XLMRobertaConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2,
                       num_attention_heads=2, intermediate_size=64, max_position_embeddings=514,
                       pad_token_id=tok.pad_token_id)
XLMRobertaModel(cfg, add_pooling_layer=False).save_pretrained(enc)
from comet.models import RegressionMetric, ReferencelessRegression
common = dict(encoder_model="XLM-RoBERTa", pretrained_model=enc, hidden_sizes=[16],
              layer="mix", pool="avg", local_files_only=True, load_pretrained_weights=True)
if kind == "kiwi":
    model = ReferencelessRegression(**common); ident = "referenceless_regression_metric"
else:
    model = RegressionMetric(**common); ident = "regression_metric"
hp = dict(model.hparams); hp["class_identifier"] = ident
os.makedirs(os.path.join(out, "checkpoints"), exist_ok=True)
torch.save({"state_dict": model.state_dict(), "hyper_parameters": hp,
            "pytorch-lightning_version": pl.__version__},
           os.path.join(out, "checkpoints", "model.ckpt"))
with open(os.path.join(out, "hparams.yaml"), "w") as f:
    yaml.safe_dump(hp, f)
print("built", kind, out)
'''


def in_ci() -> bool:
    """True under CI (``CI=true``, as .ci/run and hosted CI services set it)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1")


def ensure_comet_env() -> str:
    """Path of the COMET environment's python.

    Installing it takes minutes, so it belongs to the install step, not to the tests: without it
    the calling test skips on a developer machine and fails in CI, where a skip would hide it.
    """
    if COMET_PY.is_file() and STAMP.is_file():
        return str(COMET_PY)
    missing = f"COMET environment not installed ({COMET_PY.parent.parent}); run `make install-comet`"
    if in_ci():
        pytest.fail(f"{missing} (CI=true: CI installs it before the tests)", pytrace=False)
    pytest.skip(missing)


def build_tiny_comet(out_dir: os.PathLike, kind: str = "comet", seed: int = 0) -> Path:
    """Build a tiny COMET-22-like (``kind="comet"``) or CometKiwi-like (``"kiwi"``) model dir."""
    py = ensure_comet_env()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    script = out / "build_tiny_comet.py"
    script.write_text(_BUILD, encoding="utf-8")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([py, str(script), str(out), kind, str(seed)], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        pytest.fail(f"building the tiny COMET model failed:\n{proc.stderr[-4000:]}")
    assert (out / "checkpoints" / "model.ckpt").is_file() and (out / "hparams.yaml").is_file()
    return out


_CACHE = {}


def tiny_comet(kind: str = "comet") -> Path:
    """A session-wide tiny model of ``kind`` (built once per test process)."""
    if kind not in _CACHE:
        tmp = tempfile.mkdtemp(prefix=f"tiny_{kind}_")
        atexit.register(shutil.rmtree, tmp, True)
        _CACHE[kind] = build_tiny_comet(Path(tmp) / kind, kind)
    return _CACHE[kind]
