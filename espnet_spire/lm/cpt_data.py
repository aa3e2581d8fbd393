"""Stage 7: continued pre-training (CPT) data: ASR + MT + monolingual text, mixed, packed.

Documents
    * ASR: ``Speech:<units> English: {transcript}`` from a units file and a Kaldi ``text``;
    * MT: ``{Src}: {source} {Tgt}: {translation}`` from aligned ``text.tc.<lang>`` files, en->xx and
      xx->en (paper §3.2.1: parallel data "to and from English");
    * monolingual: the line itself.
    The separators are :class:`~espnet_spire.lm.prompts.CptFormat` options (the CPT builder of
    the paper is not released, spec §5/§9) and are recorded in ``stats.json``.

Mixture
    Speech documents (units + transcripts, counted together as the paper does) and text
    documents (MT + monolingual) are downsampled, in a seeded random order, to the configured
    speech:text *token* ratio (paper: 5B:1B); the larger side is cut. ``max_tokens`` caps the
    total (the paper's budget: 6B tokens), scaling both sides alike. The text share is the knob
    against forgetting the text skills (pain point 11).

Streaming
    Inputs are read line by line (sorted Kaldi files are merged as streams) and tokenized into an
    on-disk document store; the mixture then visits the documents in one seeded random order over
    the whole corpus and packed sequences are written as they close. Memory holds a few numbers
    per document (at most 43 bytes), not the documents: see ``bench/cpt_data_memory.py``.

Packing
    Each document becomes ``<s> ids </s>``; whole documents are packed first-fit (over a window of
    open sequences) into sequences of at most ``max_len`` tokens and padded with the pad id. No
    document is split; longer ones are skipped. Loss mask: 1 on every real token except the BOS
    (nothing predicts a document start), 0 on padding. With ``loss_on_units=False`` the unit
    tokens are context only (mask 0): the paper trains on them (default), but in a toy model they
    are most of the tokens and their loss drowns the transcript's (see the demo config).

Skipped examples (with reasons in ``skipped``): text with unit characters / ``<extra_id_N>`` /
ChatML markers / the tokenizer's special or added tokens (text policy), empty or malformed units,
empty text, missing pair, too long.
"""

from __future__ import annotations

import logging
import os
import random
import tempfile
from array import array
from collections import Counter, defaultdict, deque
from dataclasses import asdict, dataclass, field
from typing import Deque, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from espnet_spire.common.fileio import atomic_open
from espnet_spire.lm.doc_store import KINDS, DocStore
from espnet_spire.lm.prompts import CptFormat, cpt_asr_text, cpt_mt_text
from espnet_spire.lm.sources import UnitFormatError, iter_joined, iter_parallel, iter_text, to_pua
from espnet_spire.lm.text_policy import TextPolicy, TextPolicyError
from espnet_spire.lm.token_data import SplitWriter

logger = logging.getLogger(__name__)

Skip = Tuple[str, str, str]


@dataclass
class Document:
    """One CPT document before tokenization."""

    key: str
    source: str  # e.g. "asr", "mt:en-de", "mono:de"
    kind: str  # "speech" or "text"
    text: str


@dataclass
class CptConfig:
    """Options of the CPT builder (all recorded in ``stats.json``)."""

    max_len: int = 4096
    speech_text_ratio: Optional[float] = 5.0  # speech tokens per text token; None keeps everything
    max_tokens: Optional[int] = None
    seed: int = 0
    pad_to_max_len: bool = True
    pack_window: int = 64
    src_lang: str = "en"
    mt_langs: Sequence[str] = ("de", "es", "fr", "it", "ko", "nl", "pt", "ru", "zh")
    mt_directions: str = "both"  # both | en2xx | xx2en
    key_prefix: str = "cpt"
    batch_size: int = 1024
    loss_on_units: bool = True  # False: unit tokens get loss mask 0 (context only)
    fmt: CptFormat = field(default_factory=CptFormat)


def parse_ratio(value) -> Optional[float]:
    """``"5:1"`` -> 5.0, ``"5"`` -> 5.0, ``none``/``0`` -> None (no mixing)."""
    if value is None:
        return None
    s = str(value).strip().lower()
    if s in ("", "none", "0", "off"):
        return None
    if ":" in s:
        a, b = s.split(":", 1)
        return float(a) / float(b)
    return float(s)


_SUFFIXES = {"k": 10**3, "m": 10**6, "b": 10**9, "g": 10**9, "t": 10**12}


def parse_budget(value) -> Optional[int]:
    """Token budget: ``6B``/``6e9``/``6000000000`` -> 6000000000; ``0``/``none`` -> None (no budget)."""
    if value is None:
        return None
    s = str(value).strip().lower().replace("_", "")
    if s in ("", "none", "off", "0"):
        return None
    try:
        n = float(s[:-1]) * _SUFFIXES[s[-1]] if s[-1] in _SUFFIXES else float(s)
    except ValueError:
        raise ValueError(f"token budget must be a count like 6B, 6e9 or 0 (no budget), got {value!r}") from None
    if n < 0:
        raise ValueError(f"token budget must not be negative, got {value!r}")
    return int(n) or None


# ------------------------------------------------------------------ collecting documents (streams)


def asr_documents(units_path: str, text_path: str, cfg: CptConfig, policy: TextPolicy,
                  skipped: List[Skip], source: str = "asr") -> Iterator[Document]:
    """ASR documents for the ids present in both files, in the text file's order.

    Skips are added to ``skipped`` when the stream ends: ids with units but no transcript first,
    then the others in order (the order of the in-memory builder, so ``skipped`` keeps its bytes).
    """
    no_transcript: List[Skip] = []
    others: List[Skip] = []
    for key, units, transcript in iter_joined(units_path, text_path):
        if transcript is None:
            no_transcript.append((key, "no_transcript", f"not in {text_path}"))
            continue
        transcript = transcript.strip()
        if units is None:
            others.append((key, "no_units", f"not in {units_path}"))
            continue
        try:
            dsus = to_pua(units, policy.num_units)
        except UnitFormatError as e:
            others.append((key, "bad_units", str(e)))
            continue
        if not dsus:
            others.append((key, "empty_units", ""))
            continue
        if not transcript:
            others.append((key, "empty_text", ""))
            continue
        try:
            policy.check(transcript, key)
        except TextPolicyError as e:
            others.append((key, e.reason, e.detail))
            continue
        yield Document(key, source, "speech", cpt_asr_text(dsus, transcript, cfg.fmt))
    skipped.extend(no_transcript)
    skipped.extend(others)


def _directions(cfg: CptConfig, lang: str, rng: random.Random) -> List[Tuple[str, str]]:
    if cfg.mt_directions == "both":
        return [(cfg.src_lang, lang), (lang, cfg.src_lang)]
    if cfg.mt_directions == "en2xx":
        return [(cfg.src_lang, lang)]
    if cfg.mt_directions == "xx2en":
        return [(lang, cfg.src_lang)]
    if cfg.mt_directions == "random":
        return [rng.choice([(cfg.src_lang, lang), (lang, cfg.src_lang)])]
    raise ValueError(f"mt_directions must be both, en2xx, xx2en or random, got {cfg.mt_directions!r}")


def mt_documents(mt_dir: str, cfg: CptConfig, policy: TextPolicy, skipped: List[Skip],
                 rng: random.Random) -> Iterator[Document]:
    """MT documents for every ``src_lang``<->lang pair in ``mt_dir`` (missing languages are skipped)."""
    for lang in cfg.mt_langs:
        if lang == cfg.src_lang:
            continue
        if not (os.path.isfile(os.path.join(mt_dir, f"text.tc.{cfg.src_lang}"))
                and os.path.isfile(os.path.join(mt_dir, f"text.tc.{lang}"))):
            logger.warning("%s: no text.tc.%s/text.tc.%s, language skipped", mt_dir, cfg.src_lang, lang)
            continue
        for key, src, tgt in iter_parallel(mt_dir, cfg.src_lang, lang):
            if not src or not tgt:
                skipped.append((f"{key}-{cfg.src_lang}-{lang}", "empty_text", ""))
                continue
            bad = policy.violations(src) + policy.violations(tgt)
            if bad:
                skipped.append((f"{key}-{cfg.src_lang}-{lang}", bad[0][0], bad[0][1]))
                continue
            text_of = {cfg.src_lang: src, lang: tgt}
            for a, b in _directions(cfg, lang, rng):
                yield Document(f"{key}-{a}2{b}", f"mt:{a}-{b}", "text",
                               cpt_mt_text(text_of[a], text_of[b], a, b, cfg.fmt))


def mono_documents(path: str, policy: TextPolicy, skipped: List[Skip]) -> Iterator[Document]:
    """Monolingual documents from a Kaldi-style ``id text`` file (``text.tc.<lang>`` names the language)."""
    base = os.path.basename(path)
    lang = base.split(".")[-1] if base.startswith("text.tc.") else "xx"
    for key, text in iter_text(path):
        if not text:
            skipped.append((key, "empty_text", ""))
            continue
        bad = policy.violations(text)
        if bad:
            skipped.append((key, bad[0][0], bad[0][1]))
            continue
        yield Document(key, f"mono:{lang}", "text", text)


# ------------------------------------------------------------------ tokenizing, mixing, packing


def tokenize_stream(docs: Iterable[Document], tokenizer, batch_size: int = 1024
                    ) -> Iterator[Tuple[Document, np.ndarray]]:
    """``(document, <s> ids </s>)`` as int32 arrays, tokenized in batches of ``batch_size``."""
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    head = [bos] if bos is not None else []
    for batch in _batches(docs, batch_size):
        for doc, ids in zip(batch, tokenizer([d.text for d in batch], add_special_tokens=False)["input_ids"]):
            yield doc, np.asarray(head + ids + [eos], dtype=np.int32)


def _batches(items: Iterable, size: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def select(kinds: Sequence[str], lengths: Sequence[int], ratio: Optional[float], max_tokens: Optional[int],
           seed: int) -> Tuple[array, Dict[str, object]]:
    """Positions of the documents kept, in a seeded random order, to reach the speech:text token
    ratio (the larger side is cut) within ``max_tokens`` (both sides scaled down alike).

    ``kinds`` holds indices into :data:`~espnet_spire.lm.doc_store.KINDS` (0 speech, 1 text);
    both may be compact arrays. The order is an ``array('q')`` shuffled by
    ``random.Random(seed).shuffle``: 8 bytes per document, the same order as a shuffled list.
    """
    totals = [0] * len(KINDS)
    for kind, n in zip(kinds, lengths):
        totals[kind] += n
    s_avail, t_avail = int(totals[0]), int(totals[1])
    target = [float(s_avail), float(t_avail)]
    if ratio is not None and s_avail > 0 and t_avail > 0:
        if s_avail > ratio * t_avail:
            target[0] = ratio * t_avail
        else:
            target[1] = s_avail / ratio
    elif ratio is not None:
        logger.warning("only %s documents present: the speech:text ratio cannot be applied",
                       "speech" if s_avail else "text")
    if max_tokens is not None and target[0] + target[1] > max_tokens:
        scale = max_tokens / (target[0] + target[1])
        target = [v * scale for v in target]
    order = array("q", range(len(lengths)))
    random.Random(seed).shuffle(order)
    used = [0] * len(KINDS)
    keep = array("q")
    for i in order:
        kind = kinds[i]
        if used[kind] + lengths[i] <= target[kind] + 1e-9:
            keep.append(i)
            used[kind] += lengths[i]
    info = {
        "speech_tokens_available": s_avail,
        "text_tokens_available": t_avail,
        "speech_tokens": int(used[0]),
        "text_tokens": int(used[1]),
        "ratio_target": ratio,
        "ratio_achieved": (used[0] / used[1]) if used[1] else None,
    }
    return keep, info


def pack_stream(lengths: Iterable[int], max_len: int, window: int = 64) -> Iterator[List[int]]:
    """First-fit packing of items (in the given order) into bins of ``max_len`` tokens, each bin
    yielded (in creation order) as soon as it can take no more items.

    Only the ``window`` most recent open bins are searched, which keeps packing linear in the
    number of documents while reaching near first-fit padding; a bin leaves the window when it is
    full or pushed out, so only the bins from the oldest open one on are in memory.
    """
    bins: Dict[int, List[int]] = {}
    room: Dict[int, int] = {}
    open_bins: List[int] = []
    pending: Deque[int] = deque()
    created = 0
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
            b = created
            created += 1
            bins[b] = [i]
            room[b] = max_len - n
            pending.append(b)
            if room[b] > 0:
                open_bins.append(b)
                if len(open_bins) > window:
                    open_bins.pop(0)
        while pending and (not open_bins or pending[0] < open_bins[0]):
            done = pending.popleft()
            del room[done]
            yield bins.pop(done)
    while pending:
        yield bins.pop(pending.popleft())


def pack(lengths: Sequence[int], max_len: int, window: int = 64) -> List[List[int]]:
    """All bins of :func:`pack_stream` as a list."""
    return list(pack_stream(lengths, max_len, window))


# ------------------------------------------------------------------ the stage


def _documents(cfg: CptConfig, policy: TextPolicy, skipped: List[Skip], asr: Sequence[Tuple[str, str]],
               mt_dirs: Sequence[str], mono: Sequence[str]) -> Iterator[Document]:
    """Every input's documents, one stream: ASR, then MT, then monolingual (the builder's order)."""
    rng = random.Random(cfg.seed)
    for units_path, text_path in asr:
        yield from asr_documents(units_path, text_path, cfg, policy, skipped)
    for d in mt_dirs:
        yield from mt_documents(d, cfg, policy, skipped, rng)
    for path in mono:
        yield from mono_documents(path, policy, skipped)


def _without_word_cache(tokenizer) -> None:
    """Turn off the fast tokenizer's memo of pre-tokenized words: with SentencePiece-style (Llama)
    tokenizers a "word" is a whole line, lines rarely repeat, and the memo grew with the corpus
    (about 1 KiB per document in ``bench/cpt_data_memory.py``). Ids are unchanged."""
    model = getattr(getattr(tokenizer, "backend_tokenizer", None), "model", None)
    if hasattr(model, "_resize_cache"):
        model._resize_cache(0)


def _store_documents(store: DocStore, docs: Iterable[Document], tok, cfg: CptConfig,
                     too_long: List[Skip]) -> int:
    """Tokenize ``docs`` into ``store`` (those that fit ``max_len``); returns how many were read."""
    read = 0
    for doc, ids in tokenize_stream(docs, tok, cfg.batch_size):
        read += 1
        if len(ids) > cfg.max_len:
            too_long.append((doc.key, "too_long", f"{len(ids)} tokens > max_len {cfg.max_len}"))
        else:
            store.add(doc.key, doc.source, doc.kind, ids)
        if read % 1_000_000 == 0:
            logger.info("%d documents tokenized", read)
    return read


def _doc_mask(arr: np.ndarray, has_bos: bool, unit_range: Optional[Tuple[int, int]]) -> np.ndarray:
    """Loss mask of one document: 0 on its BOS and (when units are context only) on unit tokens."""
    mask = np.ones(len(arr), dtype=np.int32)
    if has_bos:
        mask[0] = 0
    if unit_range is not None:
        mask[(arr >= unit_range[0]) & (arr < unit_range[1])] = 0
    return mask


def build_cpt_data(tokenizer_dir: str, output_dir: str, cfg: CptConfig,
                   asr: Sequence[Tuple[str, str]] = (), mt_dirs: Sequence[str] = (), mono: Sequence[str] = (),
                   policy: Optional[TextPolicy] = None) -> Dict[str, object]:
    """Write one CPT split (training data contract, see :mod:`espnet_spire.lm.token_data`).

    Inputs are read as streams and tokenized into an on-disk :class:`DocStore` (next to
    ``output_dir``, removed at the end); the seeded mixture and the packing then read documents
    back by index and sequences are written as they are packed. Memory holds a few numbers per
    document, not the documents.
    """
    from transformers import AutoTokenizer

    from espnet_spire.lm.tokenizer_extension import INFO_FILE, TokenizerInfo

    tok = AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)
    _without_word_cache(tok)
    has_info = os.path.isfile(os.path.join(tokenizer_dir, INFO_FILE))
    num_units = TokenizerInfo.load(tokenizer_dir).num_units if has_info else None
    if not cfg.loss_on_units and num_units is None:
        raise ValueError(f"loss_on_units=False needs the unit id range: {tokenizer_dir} has no {INFO_FILE}")
    policy = policy or TextPolicy.for_tokenizer(tok, num_units)
    skipped: List[Skip] = []
    too_long: List[Skip] = []
    parent = os.path.dirname(os.path.abspath(output_dir))
    os.makedirs(parent, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{os.path.basename(output_dir)}.docs.", dir=parent) as tmp:
        store = DocStore(tmp)
        try:
            read = _store_documents(store, _documents(cfg, policy, skipped, asr, mt_dirs, mono), tok, cfg, too_long)
            store.finish()
            if not read:
                raise ValueError("no CPT documents: give --asr_units/--asr_text, --mt_dir or --mono inputs")
            skipped += too_long
            logger.info("%d documents collected, %d fit max_len %d, %d examples skipped",
                        read, len(store), cfg.max_len, len(skipped))
            return _write_split(store, tok, tokenizer_dir, output_dir, cfg, num_units, skipped,
                                {"asr": [list(p) for p in asr], "mt_dirs": list(mt_dirs), "mono": list(mono)})
        finally:
            store.close()


def _write_split(store: DocStore, tok, tokenizer_dir: str, output_dir: str, cfg: CptConfig,
                 num_units: Optional[int], skipped: List[Skip], inputs: Dict[str, object]) -> Dict[str, object]:
    """Mix, pack and write the stored documents; returns ``stats.json``'s content."""
    from espnet_spire.lm.tokenizer_extension import TokenizerInfo

    keep, mix_info = select(store.kinds, store.lengths, cfg.speech_text_ratio, cfg.max_tokens, cfg.seed)
    kept_lengths = array("i", (store.lengths[i] for i in keep))
    n_bins = sum(1 for _ in pack_stream(kept_lengths, cfg.max_len, cfg.pack_window))

    unit_range = None
    if not cfg.loss_on_units:
        lo = TokenizerInfo.load(tokenizer_dir).unit_offset
        unit_range = (lo, lo + (num_units or 0))
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    has_bos = tok.bos_token_id is not None
    writer = SplitWriter(output_dir)
    width = max(8, len(str(n_bins)))
    pad_tokens = 0
    with atomic_open(os.path.join(output_dir, "seq2docs")) as s2d:
        for n, b in enumerate(pack_stream(kept_lengths, cfg.max_len, cfg.pack_window)):
            arrays = [store.tokens(keep[j]) for j in b]
            ids = np.concatenate(arrays).tolist()
            mask = np.concatenate([_doc_mask(a, has_bos, unit_range) for a in arrays]).tolist()
            pad_tokens += cfg.max_len - len(ids)
            if cfg.pad_to_max_len:
                mask.extend([0] * (cfg.max_len - len(ids)))
                ids.extend([pad] * (cfg.max_len - len(ids)))
            key = f"{cfg.key_prefix}{n:0{width}d}"
            writer.add(key, ids, mask)
            s2d.write(key + " " + " ".join(store.key(keep[j]) for j in b) + "\n")

    per_source: Dict[str, Dict[str, int]] = defaultdict(lambda: {"available": 0, "selected": 0, "tokens": 0})
    for i in range(len(store)):
        per_source[store.source(i)]["available"] += 1
    for i in keep:
        per_source[store.source(i)]["selected"] += 1
        per_source[store.source(i)]["tokens"] += store.lengths[i]
    real = sum(kept_lengths)
    stats = {
        "stage": "cpt_data",
        "sequences": writer.sequences,
        "tokens": writer.tokens,
        "real_tokens": int(real),
        "pad_tokens": int(pad_tokens),
        "padding_share": pad_tokens / (n_bins * cfg.max_len) if n_bins else 0.0,
        "loss_tokens": writer.loss_tokens,
        "documents": len(keep),
        "documents_available": len(store),
        "skipped": len(skipped),
        "skipped_reasons": dict(Counter(r for _, r, _ in skipped)),
        "sources": dict(sorted(per_source.items())),
        **mix_info,
        "config": {**{k: v for k, v in asdict(cfg).items() if k != "fmt"}, "mt_langs": list(cfg.mt_langs)},
        "cpt_format": cfg.fmt.to_dict(),
        "document_template": {"bos": has_bos, "eos": True, "pad_id": pad},
        "tokenizer_length": len(tok),
        "num_units": num_units,
        "inputs": inputs,
    }
    writer.close(stats, tokenizer_dir, skipped,
                 facts={"stage": "cpt_data", "prompt_style": "cpt", "loss_on_units": cfg.loss_on_units,
                        "num_units": num_units})
    logger.info("%s: %d sequences of <= %d tokens, %d documents, padding share %.2f%%, speech:text %s, %d skipped",
                output_dir, writer.sequences, cfg.max_len, len(keep), 100 * stats["padding_share"],
                "n/a" if mix_info["ratio_achieved"] is None else f"{mix_info['ratio_achieved']:.2f}", len(skipped))
    return stats
