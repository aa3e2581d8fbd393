"""Frozen copy of the in-memory CPT builder as of main 2379c6c (tests only).

The oracle that the streaming builder must match byte for byte; not to be edited.
"""

from __future__ import annotations

import logging
import os
import random
from collections import Counter, defaultdict
from dataclasses import asdict
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from espnet_spire.common.fileio import atomic_open
from espnet_spire.lm.cpt_data import CptConfig, Document  # unchanged by streaming
from espnet_spire.lm.prompts import cpt_asr_text, cpt_mt_text
from espnet_spire.lm.sources import UnitFormatError, read_parallel, read_text, read_units, to_pua
from espnet_spire.lm.text_policy import TextPolicy, TextPolicyError
from espnet_spire.lm.token_data import SplitWriter

logger = logging.getLogger(__name__)

Skip = Tuple[str, str, str]


# ------------------------------------------------------------------ collecting documents


def asr_documents(units_path: str, text_path: str, cfg: CptConfig, policy: TextPolicy,
                  skipped: List[Skip], source: str = "asr") -> List[Document]:
    """ASR documents for the ids present in both files."""
    units = read_units(units_path)
    texts = read_text(text_path)
    docs = []
    for key in units:
        if key not in texts:
            skipped.append((key, "no_transcript", f"not in {text_path}"))
    for key, transcript in texts.items():
        if key not in units:
            skipped.append((key, "no_units", f"not in {units_path}"))
            continue
        try:
            dsus = to_pua(units[key], policy.num_units)
        except UnitFormatError as e:
            skipped.append((key, "bad_units", str(e)))
            continue
        if not dsus:
            skipped.append((key, "empty_units", ""))
            continue
        if not transcript:
            skipped.append((key, "empty_text", ""))
            continue
        try:
            policy.check(transcript, key)
        except TextPolicyError as e:
            skipped.append((key, e.reason, e.detail))
            continue
        docs.append(Document(key, source, "speech", cpt_asr_text(dsus, transcript, cfg.fmt)))
    return docs


def mt_documents(mt_dir: str, cfg: CptConfig, policy: TextPolicy, skipped: List[Skip],
                 rng: random.Random) -> List[Document]:
    """MT documents for every ``src_lang``<->lang pair in ``mt_dir`` (missing languages are skipped)."""
    docs = []
    for lang in cfg.mt_langs:
        if lang == cfg.src_lang:
            continue
        if not (os.path.isfile(os.path.join(mt_dir, f"text.tc.{cfg.src_lang}"))
                and os.path.isfile(os.path.join(mt_dir, f"text.tc.{lang}"))):
            logger.warning("%s: no text.tc.%s/text.tc.%s, language skipped", mt_dir, cfg.src_lang, lang)
            continue
        for key, src, tgt in read_parallel(mt_dir, cfg.src_lang, lang):
            if not src or not tgt:
                skipped.append((f"{key}-{cfg.src_lang}-{lang}", "empty_text", ""))
                continue
            bad = policy.violations(src) + policy.violations(tgt)
            if bad:
                skipped.append((f"{key}-{cfg.src_lang}-{lang}", bad[0][0], bad[0][1]))
                continue
            if cfg.mt_directions == "both":
                dirs = [(cfg.src_lang, lang), (lang, cfg.src_lang)]
            elif cfg.mt_directions == "en2xx":
                dirs = [(cfg.src_lang, lang)]
            elif cfg.mt_directions == "xx2en":
                dirs = [(lang, cfg.src_lang)]
            elif cfg.mt_directions == "random":
                dirs = [rng.choice([(cfg.src_lang, lang), (lang, cfg.src_lang)])]
            else:
                raise ValueError(f"mt_directions must be both, en2xx, xx2en or random, got {cfg.mt_directions!r}")
            text_of = {cfg.src_lang: src, lang: tgt}
            for a, b in dirs:
                docs.append(Document(f"{key}-{a}2{b}", f"mt:{a}-{b}", "text",
                                     cpt_mt_text(text_of[a], text_of[b], a, b, cfg.fmt)))
    return docs


def mono_documents(path: str, policy: TextPolicy, skipped: List[Skip]) -> List[Document]:
    """Monolingual documents from a Kaldi-style ``id text`` file (``text.tc.<lang>`` names the language)."""
    base = os.path.basename(path)
    lang = base.split(".")[-1] if base.startswith("text.tc.") else "xx"
    docs = []
    for key, text in read_text(path).items():
        if not text:
            skipped.append((key, "empty_text", ""))
            continue
        bad = policy.violations(text)
        if bad:
            skipped.append((key, bad[0][0], bad[0][1]))
            continue
        docs.append(Document(key, f"mono:{lang}", "text", text))
    return docs


# ------------------------------------------------------------------ tokenizing, mixing, packing


def tokenize_documents(docs: Sequence[Document], tokenizer, batch_size: int = 1024) -> List[np.ndarray]:
    """``<s> ids </s>`` per document as int32 arrays (batched through the fast tokenizer)."""
    from tqdm import tqdm

    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    out: List[np.ndarray] = []
    for start in tqdm(range(0, len(docs), batch_size), desc="tokenize", unit="batch",
                      disable=len(docs) < 5 * batch_size):
        batch = [d.text for d in docs[start:start + batch_size]]
        for ids in tokenizer(batch, add_special_tokens=False)["input_ids"]:
            out.append(np.asarray(([bos] if bos is not None else []) + ids + [eos], dtype=np.int32))
    return out


def mix(docs: Sequence[Document], lengths: Sequence[int], ratio: Optional[float], max_tokens: Optional[int],
        seed: int) -> Tuple[List[int], Dict[str, object]]:
    """Indices of the documents kept (seeded random order) to reach the speech:text token ratio."""
    totals = Counter()
    for d, n in zip(docs, lengths):
        totals[d.kind] += n
    s_avail, t_avail = totals["speech"], totals["text"]
    target = {"speech": float(s_avail), "text": float(t_avail)}
    if ratio is not None and s_avail > 0 and t_avail > 0:
        if s_avail > ratio * t_avail:
            target["speech"] = ratio * t_avail
        else:
            target["text"] = s_avail / ratio
    elif ratio is not None:
        logger.warning("only %s documents present: the speech:text ratio cannot be applied",
                       "speech" if s_avail else "text")
    if max_tokens is not None and target["speech"] + target["text"] > max_tokens:
        scale = max_tokens / (target["speech"] + target["text"])
        target = {k: v * scale for k, v in target.items()}
    order = list(range(len(docs)))
    random.Random(seed).shuffle(order)
    used = Counter()
    keep = []
    for i in order:
        kind = docs[i].kind
        if used[kind] + lengths[i] <= target[kind] + 1e-9:
            keep.append(i)
            used[kind] += lengths[i]
    info = {
        "speech_tokens_available": int(s_avail),
        "text_tokens_available": int(t_avail),
        "speech_tokens": int(used["speech"]),
        "text_tokens": int(used["text"]),
        "ratio_target": ratio,
        "ratio_achieved": (used["speech"] / used["text"]) if used["text"] else None,
    }
    return keep, info


def pack(lengths: Sequence[int], max_len: int, window: int = 64) -> List[List[int]]:
    """First-fit packing of items (in the given order) into bins of ``max_len`` tokens.

    Only the ``window`` most recent open bins are searched, which keeps packing linear in the
    number of documents while reaching near first-fit padding.
    """
    bins: List[List[int]] = []
    room: List[int] = []
    open_bins: List[int] = []
    for i, n in enumerate(lengths):
        if n > max_len:
            raise ValueError(f"item {i} has {n} tokens > max_len {max_len}")
        for b in open_bins:
            if room[b] >= n:
                bins[b].append(i)
                room[b] -= n
                if room[b] == 0:
                    open_bins.remove(b)
                break
        else:
            bins.append([i])
            room.append(max_len - n)
            if room[-1] > 0:
                open_bins.append(len(bins) - 1)
                if len(open_bins) > window:
                    open_bins.pop(0)
    return bins


# ------------------------------------------------------------------ the stage


def build_cpt_data(tokenizer_dir: str, output_dir: str, cfg: CptConfig,
                   asr: Sequence[Tuple[str, str]] = (), mt_dirs: Sequence[str] = (), mono: Sequence[str] = (),
                   policy: Optional[TextPolicy] = None) -> Dict[str, object]:
    """Write one CPT split (training data contract, see :mod:`espnet_spire.lm.token_data`)."""
    from transformers import AutoTokenizer

    from espnet_spire.lm.tokenizer_extension import INFO_FILE, TokenizerInfo

    tok = AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)
    has_info = os.path.isfile(os.path.join(tokenizer_dir, INFO_FILE))
    num_units = TokenizerInfo.load(tokenizer_dir).num_units if has_info else None
    policy = policy or TextPolicy(num_units=num_units)
    rng = random.Random(cfg.seed)
    skipped: List[Skip] = []
    docs: List[Document] = []
    for units_path, text_path in asr:
        docs += asr_documents(units_path, text_path, cfg, policy, skipped)
    for d in mt_dirs:
        docs += mt_documents(d, cfg, policy, skipped, rng)
    for path in mono:
        docs += mono_documents(path, policy, skipped)
    if not docs:
        raise ValueError("no CPT documents: give --asr_units/--asr_text, --mt_dir or --mono inputs")
    logger.info("%d documents collected, %d examples skipped so far", len(docs), len(skipped))

    token_arrays = tokenize_documents(docs, tok, cfg.batch_size)
    fitting = []
    for i, arr in enumerate(token_arrays):
        if len(arr) > cfg.max_len:
            skipped.append((docs[i].key, "too_long", f"{len(arr)} tokens > max_len {cfg.max_len}"))
        else:
            fitting.append(i)
    docs = [docs[i] for i in fitting]
    token_arrays = [token_arrays[i] for i in fitting]
    lengths = [len(a) for a in token_arrays]
    keep, mix_info = mix(docs, lengths, cfg.speech_text_ratio, cfg.max_tokens, cfg.seed)
    bins = pack([lengths[i] for i in keep], cfg.max_len, cfg.pack_window)

    if not cfg.loss_on_units and num_units is None:
        raise ValueError(f"loss_on_units=False needs the unit id range: {tokenizer_dir} has no {INFO_FILE}")
    unit_lo = TokenizerInfo.load(tokenizer_dir).unit_offset if not cfg.loss_on_units else 0
    unit_hi = unit_lo + (num_units or 0)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    has_bos = tok.bos_token_id is not None
    writer = SplitWriter(output_dir)
    width = max(8, len(str(len(bins))))
    pad_tokens = 0
    with atomic_open(os.path.join(output_dir, "seq2docs")) as s2d:
        for n, b in enumerate(bins):
            ids: List[int] = []
            mask: List[int] = []
            for j in b:
                arr = token_arrays[keep[j]]
                ids.extend(arr.tolist())
                doc_mask = np.ones(len(arr), dtype=np.int32)
                if has_bos:
                    doc_mask[0] = 0
                if not cfg.loss_on_units:
                    doc_mask[(arr >= unit_lo) & (arr < unit_hi)] = 0
                mask.extend(doc_mask.tolist())
            if cfg.pad_to_max_len:
                pad_tokens += cfg.max_len - len(ids)
                mask.extend([0] * (cfg.max_len - len(ids)))
                ids.extend([pad] * (cfg.max_len - len(ids)))
            else:
                pad_tokens += cfg.max_len - len(ids)
            key = f"{cfg.key_prefix}{n:0{width}d}"
            writer.add(key, ids, mask)
            s2d.write(key + " " + " ".join(docs[keep[j]].key for j in b) + "\n")

    per_source: Dict[str, Dict[str, int]] = defaultdict(lambda: {"available": 0, "selected": 0, "tokens": 0})
    for d in docs:
        per_source[d.source]["available"] += 1
    for i in keep:
        per_source[docs[i].source]["selected"] += 1
        per_source[docs[i].source]["tokens"] += lengths[i]
    real = sum(lengths[i] for i in keep)
    stats = {
        "stage": "cpt_data",
        "sequences": writer.sequences,
        "tokens": writer.tokens,
        "real_tokens": int(real),
        "pad_tokens": int(pad_tokens),
        "padding_share": pad_tokens / (len(bins) * cfg.max_len) if bins else 0.0,
        "loss_tokens": writer.loss_tokens,
        "documents": len(keep),
        "documents_available": len(docs),
        "skipped": len(skipped),
        "skipped_reasons": dict(Counter(r for _, r, _ in skipped)),
        "sources": dict(sorted(per_source.items())),
        **mix_info,
        "config": {**{k: v for k, v in asdict(cfg).items() if k != "fmt"}, "mt_langs": list(cfg.mt_langs)},
        "cpt_format": cfg.fmt.to_dict(),
        "document_template": {"bos": has_bos, "eos": True, "pad_id": pad},
        "tokenizer_length": len(tok),
        "num_units": num_units,
        "inputs": {"asr": [list(p) for p in asr], "mt_dirs": list(mt_dirs), "mono": list(mono)},
    }
    writer.close(stats, tokenizer_dir, skipped,
                 facts={"stage": "cpt_data", "prompt_style": "cpt", "loss_on_units": cfg.loss_on_units,
                        "num_units": num_units})
    logger.info("%s: %d sequences of <= %d tokens, %d documents, padding share %.2f%%, speech:text %s, %d skipped",
                output_dir, writer.sequences, cfg.max_len, len(keep), 100 * stats["padding_share"],
                "n/a" if mix_info["ratio_achieved"] is None else f"{mix_info['ratio_achieved']:.2f}", len(skipped))
    return stats
