"""The demo's stand-in for TowerBase: a Llama-style sentencepiece tokenizer trained on the demo
text and a randomly initialised LlamaForCausalLM sized to it, saved as a Hugging Face model dir
that stage 6 extends exactly as it would extend TowerBase-7B.

The recipe then trains this model on the demo's text only (MT pairs + monolingual text), so that
"text quality kept" can be measured against a base that really knows the text tasks.
"""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Dict, Iterable, List, Tuple

import yaml

logger = logging.getLogger(__name__)

# Llama-2-like sentencepiece settings: BPE with byte fallback, no normalisation, digits split.
SPM_SETTINGS = dict(
    model_type="bpe",
    byte_fallback=True,
    hard_vocab_limit=False,
    split_digits=True,
    unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
    normalization_rule_name="identity",
    add_dummy_prefix=True,
    remove_extra_whitespaces=False,
    allow_whitespace_only_pieces=True,
)


def read_text_lines(files: Iterable[Path]) -> List[str]:
    """Values of Kaldi-style text files (``id text``), in file order."""
    lines: List[str] = []
    for path in files:
        with open(path, encoding="utf-8") as f:
            for line in f:
                parts = line.rstrip("\n").split(" ", 1)
                if len(parts) == 2 and parts[1].strip():
                    lines.append(parts[1].strip())
    return lines


def train_spm(lines: List[str], out_dir: Path, vocab_size: int,
              character_coverage: float = 1.0) -> Path:
    """Train ``out_dir/tokenizer.model`` on all lines, single-threaded: reproducible (BPE
    training samples nothing, so it needs no seed)."""
    import sentencepiece as spm

    out_dir.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=buf, vocab_size=vocab_size,
        character_coverage=character_coverage, num_threads=1, minloglevel=2, **SPM_SETTINGS,
    )
    path = out_dir / "tokenizer.model"
    path.write_bytes(buf.getvalue())
    return path


def build_toy_base(text_files: List[Path], out_dir: Path, model_config: Dict[str, object],
                   vocab_size: int = 3000, seed: int = 0) -> Path:
    """Tokenizer + random Llama in ``out_dir`` (an HF dir ``AutoModelForCausalLM`` loads)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, LlamaTokenizer

    lines = read_text_lines(text_files)
    if not lines:
        raise ValueError(f"no text in {[str(f) for f in text_files]}")
    train_spm(lines, out_dir, vocab_size)
    tok = LlamaTokenizer.from_pretrained(str(out_dir))  # converts tokenizer.model (v5)
    tok.save_pretrained(str(out_dir))
    cfg = LlamaConfig(vocab_size=len(tok), bos_token_id=1, eos_token_id=2, pad_token_id=None,
                      **model_config)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg)
    model.save_pretrained(str(out_dir))
    n_params = sum(p.numel() for p in model.parameters())
    info = {"lines": len(lines), "vocab_size": len(tok), "parameters": n_params, "seed": seed,
            "model_config": model_config, "text_files": [str(f) for f in text_files]}
    (out_dir / "toy_base.json").write_text(json.dumps(info, indent=2) + "\n")
    logger.info("toy base: %d-piece tokenizer from %d lines, %.2fM parameters -> %s",
                len(tok), len(lines), n_params / 1e6, out_dir)
    return out_dir


def load_model_config(path: Path) -> Tuple[Dict[str, object], int]:
    """The ``model`` section of a toy-base YAML config (LlamaConfig keyword arguments)."""
    with open(path, encoding="utf-8") as f:
        conf = yaml.safe_load(f)
    return dict(conf["model"]), int(conf.get("vocab_size", 3000))
