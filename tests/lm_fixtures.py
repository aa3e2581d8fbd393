"""Tiny stand-ins for TowerBase built inside the tests (nothing is downloaded).

* a Llama-style sentencepiece model (BPE, byte fallback, identity normalisation, no whitespace
  collapsing, digits split) trained on a few hundred NTREX lines in ten languages, read-only from
  ``../shared/data/ntrex``;
* a random ``LlamaForCausalLM`` (hidden 64, 2 layers, 4 heads, 2 KV heads) sized to it.
"""

from __future__ import annotations

import os
from typing import Dict, List, Optional, Sequence, Tuple

from _shared_data import shared_data

NTREX_FILES: Dict[str, str] = {
    "en": "eng", "de": "deu", "fr": "fra", "es": "spa", "it": "ita",
    "pt": "por", "nl": "nld", "ru": "rus", "zh": "zho-CN", "ko": "kor",
}


def limit_threads() -> None:
    """One intra-op thread unless OMP_NUM_THREADS says otherwise.

    Tiny models on a shared 2-core machine run ~50x slower with 2 contending torch threads (each
    small matmul waits for the other core); recipes get the same from path.sh (OMP_NUM_THREADS=1).
    """
    if "OMP_NUM_THREADS" not in os.environ:
        import torch

        torch.set_num_threads(1)


limit_threads()


def ntrex_lines(lang: str, n: int = 30, start: int = 0) -> List[str]:
    """First ``n`` NTREX lines of ``lang`` (two-letter code), stripped."""
    path = shared_data("ntrex", f"newstest2019.{NTREX_FILES[lang]}.txt")
    with open(path, encoding="utf-8") as f:
        lines = [ln.strip() for ln in f.read().splitlines() if ln.strip()]
    return lines[start:start + n]


def training_lines(per_lang: int = 40) -> List[str]:
    """A few hundred lines in the ten SPIRE languages plus some prompt words."""
    lines: List[str] = []
    for lang in NTREX_FILES:
        lines += ntrex_lines(lang, per_lang)
    lines += ["Speech: English: German: French: Translate the following text from English to German."] * 5
    lines += [f"user assistant hello world {i}" for i in range(20)]
    return lines


def train_spm(out_dir: str, vocab_size: int = 1000, per_lang: int = 40) -> str:
    """Train a Llama-like sentencepiece model into ``out_dir/tokenizer.model``; returns its path."""
    from pathlib import Path

    from espnet_spire.demo.toy_base import train_spm as train_llama_like_spm

    return str(train_llama_like_spm(training_lines(per_lang), Path(out_dir), vocab_size,
                                    character_coverage=0.98))


def pad_spm_to(src: str, dst_dir: str, size: int = 32000) -> str:
    """Copy of an spm model padded with dummy NORMAL pieces to ``size`` pieces (Llama-2 count)."""
    from sentencepiece import sentencepiece_model_pb2 as pb

    proto = pb.ModelProto()
    with open(src, "rb") as f:
        proto.ParseFromString(f.read())
    score = proto.pieces[-1].score
    n = 0
    while len(proto.pieces) < size:
        p = proto.pieces.add()
        p.piece = f"\u2603dummy{n}"
        p.type = pb.ModelProto.SentencePiece.NORMAL
        score -= 1
        p.score = score
        n += 1
    os.makedirs(dst_dir, exist_ok=True)
    path = os.path.join(dst_dir, "tokenizer.model")
    with open(path, "wb") as f:
        f.write(proto.SerializeToString())
    return path


def tiny_llama(vocab_size: int, seed: int = 0, tie: bool = False, max_positions: int = 2048,
               pad_token_id: Optional[int] = None):
    """Random LlamaForCausalLM: hidden 64, 2 layers, 4 heads, 2 KV heads (the one tiny model of the tests)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_positions,
        tie_word_embeddings=tie,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=pad_token_id,
    )
    model = LlamaForCausalLM(cfg)
    model.eval()
    return model


def make_base_dir(out_dir: str, vocab_size: int = 1000, with_model: bool = True, tie: bool = False,
                  seed: int = 0) -> str:
    """A TowerBase stand-in: ``tokenizer.model`` (+ a tiny model saved with save_pretrained)."""
    path = train_spm(out_dir, vocab_size)
    if with_model:
        import sentencepiece as spm

        n = spm.SentencePieceProcessor(model_file=path).get_piece_size()
        tiny_llama(n, seed=seed, tie=tie).save_pretrained(out_dir)
    return out_dir


def make_bpe_base(out_dir: str):
    """A byte-level BPE base without sentencepiece (stage 6's added-tokens layout); returns the tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE(unk_token=None))
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    raw.train_from_iterator(training_lines(10), trainer)
    base = PreTrainedTokenizerFast(tokenizer_object=raw, eos_token="<|endoftext|>", bos_token="<|endoftext|>")
    base.save_pretrained(out_dir)
    return base


def build_tokenizers(root: str, num_units: int = 50, vocab_size: int = 1000) -> Dict[str, str]:
    """Base spm dir + stage-6a output under ``root``; returns the paths."""
    from espnet_spire.lm.tokenizer_extension import extend_tokenizer

    base = os.path.join(root, "base_model")
    train_spm(base, vocab_size)
    out = os.path.join(root, "tokenizer")
    extend_tokenizer(base, out, num_units)
    return {"base": base, "tokenizer": out, "tok_base": os.path.join(out, "base"),
            "tok_instruct": os.path.join(out, "instruct")}


def save_tiny_model(out_dir: str, tokenizer_dir: str, seed: int = 0, tie: bool = False) -> str:
    """A random tiny model with rows = len(tokenizer) padded to 64, saved with the tokenizer."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)
    rows = -(-len(tok) // 64) * 64
    model = tiny_llama(rows, seed=seed, tie=tie)
    model.config.eos_token_id = tok.eos_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    info = os.path.join(tokenizer_dir, "spire_tokenizer.json")
    if os.path.isfile(info):
        with open(info, "rb") as f, open(os.path.join(out_dir, "spire_tokenizer.json"), "wb") as g:
            g.write(f.read())
    return out_dir


def write_export_inputs(root: str) -> Tuple[str, str]:
    """A training config and a RESULTS.md (WER 99.9 on demo_test) for stage-14 exports; returns their paths."""
    conf = os.path.join(root, "train_it.yaml")
    with open(conf, "w") as f:
        f.write("lr: 1e-5\n")
    results = os.path.join(root, "RESULTS.md")
    with open(results, "w") as f:
        f.write("# RESULTS\n| set | WER |\n|---|---|\n| demo_test | 99.9 |\n")
    return conf, results


def write_lines(path: str, lines) -> None:
    """Write ``lines`` (one per line) to ``path``, creating its dir."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))


def random_units(rng, n: int, num_units: int) -> str:
    """A PUA unit string of length ``n`` (no dedup needed for tokenizer tests)."""
    return "".join(chr(0xF0000 + int(i)) for i in rng.integers(0, num_units, size=n))


def ids_of(tokenizer, text: str) -> List[int]:
    """HF ids without BOS."""
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def first_existing(paths: List[str]) -> Optional[str]:
    """First path that exists (helper for optional real-checkpoint checks)."""
    for p in paths:
        if p and os.path.exists(p):
            return p
    return None


__all__ = [name for name in dir() if not name.startswith("_") and name not in ("io", "os")]


def tiny_kmeans_dir(path: str, k: int, dim: int = 4, feature: Optional[Dict] = None, seed: Optional[int] = None,
                    sources: Sequence[str] = ()) -> str:
    """A k-means dir as stage 4 writes it, with random centres (``seed`` defaults to ``k``)."""
    import numpy as np

    from espnet_spire.units.kmeans import KMeansConfig, save_kmeans, sklearn_model_from_centers

    centers = np.random.default_rng(k if seed is None else seed).normal(size=(k, dim)).astype(np.float32)
    save_kmeans(sklearn_model_from_centers(centers), path, KMeansConfig(n_clusters=k), {},
                feature or {"feature_type": "mfcc", "dim": dim, "layer": None}, list(sources))
    return path
