"""Stage 6a: give a text LLM's tokenizer one token per speech unit, the SPIRE way.

Sentencepiece base (Llama/Tower)
    The sentencepiece ``ModelProto`` itself is extended (not ``add_tokens``): the five specials
    ``<CLS> <EOD> <MASK> <PAD> <SEP>`` are appended as USER_DEFINED pieces, then K unit pieces
    (NORMAL, one private-use character each) with "bpe" scores (last score -1, -2, ...). For the
    32,000-piece Llama-2 model this gives SPIRE's ids exactly: specials 32000-32004, unit i =
    32005+i (compat vector 11). Each unit is a single-character piece and no piece contains a unit
    character, so a string of L units always encodes to exactly L ids, in every runtime that reads
    the proto (native sentencepiece, the HF tokenizers conversion, llama.cpp, vLLM).

Other bases (a ``tokenizer.json`` without sentencepiece)
    Specials and units become added tokens (``normalized=False``), which are matched before the
    model and so also give exactly one id per unit.

Two HF tokenizer dirs are written: ``base/`` (eos = pad = ``</s>``) and ``instruct/``
(``<|im_end|>`` = eos at the next id, ``<|im_start|>`` an additional special token at the one
after, the TowerInstruct chat template; pad stays ``</s>``). Each holds ``spire_tokenizer.json``
with the id layout, which the later stages read instead of recomputing it.

transformers v5 notes (``environment.md`` §2): the HF tokenizer is built with
``LlamaTokenizer.from_pretrained(dir)`` from a dir holding the extended ``tokenizer.model`` (the
constructor with ``vocab_file=`` silently yields an empty tokenizer), BOS is not added by default
(callers add it explicitly), and there is no sentencepiece-backed "slow" Llama class any more.
The reference "slow" tokenization is therefore native sentencepiece, reproduced by
:func:`reference_encode`; v5 uses the non-legacy Llama behaviour (a dummy-prefix space only at
the very start of the input, none after special tokens). The two agree on every input that does
not *start* with whitespace (Metaspace does not add a second "▁" where sentencepiece does); all
builders strip their text, and :func:`check_consistency` runs after every build. Every dir is
written through :func:`espnet_spire.lm.tokenizer_compat.save_tokenizer`, so that it also loads in
transformers 4.57 (SpireLM's pin) with the same ids.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from espnet_spire.common.fileio import write_json
from espnet_spire.common.hashing import sha256_file
from espnet_spire.lm.prompts import IM_END, IM_START, TOWER_INSTRUCT_CHAT_TEMPLATE
from espnet_spire.lm.tokenizer_compat import save_tokenizer
from espnet_spire.units.dsu_format import PUA_MAX_INDEX, PUA_OFFSET, pua

logger = logging.getLogger(__name__)

SPIRE_SPECIALS: Tuple[str, ...] = ("<CLS>", "<EOD>", "<MASK>", "<PAD>", "<SEP>")
INFO_FILE = "spire_tokenizer.json"
SPM_FILE = "tokenizer.model"


@dataclass
class TokenizerInfo:
    """Id layout of an extended tokenizer (written as ``spire_tokenizer.json``)."""

    variant: str  # "base" or "instruct"
    method: str  # "spm" (proto extended) or "added_tokens"
    base_vocab_size: int
    specials: Dict[str, int]
    unit_offset: int  # id of unit 0
    num_units: int
    length: int  # len(tokenizer)
    eos_token: str
    eos_token_id: int
    pad_token_id: int
    bos_token_id: Optional[int]
    im_start_id: Optional[int] = None
    im_end_id: Optional[int] = None
    dsu_format: str = "pua"
    pua_offset: int = PUA_OFFSET
    scoring: str = "bpe"
    source: str = ""
    source_sha256: str = ""
    extra: Dict[str, object] = field(default_factory=dict)

    def unit_id(self, i: int) -> int:
        """Token id of unit ``i``."""
        if not 0 <= i < self.num_units:
            raise ValueError(f"unit {i} outside [0, {self.num_units})")
        return self.unit_offset + i

    def save(self, directory: str) -> None:
        """Write ``spire_tokenizer.json`` into ``directory``."""
        write_json(os.path.join(directory, INFO_FILE), asdict(self), sort_keys=False)

    @classmethod
    def load(cls, directory: str) -> "TokenizerInfo":
        """Read ``spire_tokenizer.json`` from a tokenizer (or exported model) dir."""
        path = os.path.join(directory, INFO_FILE)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path} not found: {directory} is not an extended SPIRE tokenizer dir")
        with open(path, encoding="utf-8") as f:
            return cls(**json.load(f))


def padded_size(n: int, multiple: int = 64) -> int:
    """``n`` rounded up to a multiple (37005 -> 37056 for 64)."""
    if multiple <= 0:
        raise ValueError("multiple must be positive")
    return -(-n // multiple) * multiple


def _check_num_units(num_units: int) -> None:
    if not 1 <= num_units <= PUA_MAX_INDEX + 1:
        raise ValueError(f"num_units must be in [1, {PUA_MAX_INDEX + 1}], got {num_units}")


def unit_strings(num_units: int) -> List[str]:
    """The K unit characters in index order."""
    _check_num_units(num_units)
    return [pua(i) for i in range(num_units)]


# ------------------------------------------------------------------ sentencepiece proto


def load_spm_proto(path: str):
    """Parse a sentencepiece model file into a ``ModelProto``."""
    from sentencepiece import sentencepiece_model_pb2 as pb

    proto = pb.ModelProto()
    with open(path, "rb") as f:
        proto.ParseFromString(f.read())
    if not proto.pieces:
        raise ValueError(f"{path} is not a sentencepiece model (no pieces)")
    return proto


def extend_spm_proto(proto, num_units: int, specials: Sequence[str] = SPIRE_SPECIALS, scoring: str = "bpe"):
    """Append specials (USER_DEFINED) then unit pieces (NORMAL) to a copy of ``proto``.

    ``scoring="bpe"`` gives the appended pieces the last existing score minus 1, 2, ... (SpireLM
    ``_extend``); ``"zero"`` gives them 0. Refuses a base whose pieces already contain unit
    characters or the specials, since ids would then no longer be predictable.
    """
    from sentencepiece import sentencepiece_model_pb2 as pb

    units = unit_strings(num_units)
    lo, hi = PUA_OFFSET, PUA_OFFSET + num_units
    existing = set()
    for p in proto.pieces:
        existing.add(p.piece)
        if any(lo <= ord(c) < hi for c in p.piece):
            raise ValueError(f"base tokenizer piece {p.piece!r} already contains a unit character")
    clash = [s for s in specials if s in existing]
    if clash:
        raise ValueError(f"base tokenizer already has the pieces {clash}")
    if scoring not in ("bpe", "zero"):
        raise ValueError(f"scoring must be 'bpe' or 'zero', got {scoring!r}")
    out = pb.ModelProto()
    out.CopyFrom(proto)
    score = out.pieces[-1].score
    for text, kind in [(s, pb.ModelProto.SentencePiece.USER_DEFINED) for s in specials] + [
        (u, pb.ModelProto.SentencePiece.NORMAL) for u in units
    ]:
        piece = out.pieces.add()
        piece.piece = text
        piece.type = kind
        if scoring == "bpe":
            score -= 1.0
            piece.score = score
        else:
            piece.score = 0.0
    return out


def save_spm(proto, prefix: str) -> Tuple[str, str]:
    """Write ``prefix.model`` and ``prefix.vocab`` (``piece<TAB>int(score)``, as SpireLM)."""
    model_path, vocab_path = prefix + ".model", prefix + ".vocab"
    with open(model_path, "wb") as f:
        f.write(proto.SerializeToString())
    with open(vocab_path, "w", encoding="utf-8") as f:
        for p in proto.pieces:
            f.write(f"{p.piece}\t{int(p.score)}\n")
    return model_path, vocab_path


# ------------------------------------------------------------------ HF tokenizers


def _tidy_specials(tok, keep: Iterable[str]) -> None:
    """Keep only real special tokens in ``extra_special_tokens``.

    The v5 sentencepiece conversion lists USER_DEFINED pieces (``<CLS>`` ...) and ``<s>``/``</s>``
    as extra specials; in SPIRE they are ordinary pieces, and listing them would make
    ``skip_special_tokens`` drop them from decoded text.
    """
    keep = list(keep)
    try:
        tok.extra_special_tokens = keep
    except Exception:  # older attribute name
        tok.additional_special_tokens = keep


def _load_hf(path: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path, local_files_only=True)


def _info_from_tokenizer(tok, variant: str, method: str, base_vocab_size: int, specials: Sequence[str],
                         num_units: int, scoring: str, source: str, source_sha: str) -> TokenizerInfo:
    vocab = tok.get_vocab()
    special_ids = {s: vocab[s] for s in specials}
    unit_offset = vocab[pua(0)]
    info = TokenizerInfo(
        variant=variant,
        method=method,
        base_vocab_size=base_vocab_size,
        specials=special_ids,
        unit_offset=unit_offset,
        num_units=num_units,
        length=len(tok),
        eos_token=str(tok.eos_token),
        eos_token_id=int(tok.eos_token_id),
        pad_token_id=int(tok.pad_token_id),
        bos_token_id=None if tok.bos_token_id is None else int(tok.bos_token_id),
        im_start_id=vocab.get(IM_START) if variant == "instruct" else None,
        im_end_id=vocab.get(IM_END) if variant == "instruct" else None,
        scoring=scoring,
        source=os.path.abspath(source),
        source_sha256=source_sha,
    )
    # The whole point of the layout: units are contiguous and one id each.
    for i in (0, num_units // 2, num_units - 1):
        if vocab.get(pua(i)) != unit_offset + i:
            raise RuntimeError(f"unit {i} has id {vocab.get(pua(i))}, expected {unit_offset + i}")
    return info


def _make_instruct(base_dir: str, out_dir: str):
    """Copy of the base tokenizer with ``<|im_end|>`` as eos, ``<|im_start|>`` and the chat template."""
    tok = _load_hf(base_dir)
    base_extras = [str(t) for t in getattr(tok, "extra_special_tokens", []) or []]
    tok.add_special_tokens({"eos_token": IM_END})
    tok.add_special_tokens({"additional_special_tokens": [IM_START]})
    _tidy_specials(tok, base_extras + [IM_START])
    tok.pad_token = "</s>" if "</s>" in tok.get_vocab() else tok.pad_token
    tok.chat_template = TOWER_INSTRUCT_CHAT_TEMPLATE
    save_tokenizer(tok, out_dir)
    return _load_hf(out_dir)


def build_from_spm(base_dir: str, output_dir: str, num_units: int, specials: Sequence[str] = SPIRE_SPECIALS,
                   scoring: str = "bpe") -> Tuple[TokenizerInfo, TokenizerInfo]:
    """Extend ``base_dir/tokenizer.model`` and write ``output_dir/{base,instruct}`` (+ ``spm.model``)."""
    from transformers import LlamaTokenizer

    src = os.path.join(base_dir, SPM_FILE)
    proto = load_spm_proto(src)
    base_size = len(proto.pieces)
    ext = extend_spm_proto(proto, num_units, specials, scoring)
    os.makedirs(output_dir, exist_ok=True)
    model_path, _ = save_spm(ext, os.path.join(output_dir, "spm"))

    base_out = os.path.join(output_dir, "base")
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copyfile(model_path, os.path.join(tmp, SPM_FILE))
        # Gotcha 1: only from_pretrained(dir) converts the proto; pad = eos as in SPIRE.
        tok = LlamaTokenizer.from_pretrained(tmp, local_files_only=True, pad_token="</s>")
        _tidy_specials(tok, [])
        os.makedirs(base_out, exist_ok=True)
        save_tokenizer(tok, base_out)
    shutil.copyfile(model_path, os.path.join(base_out, SPM_FILE))
    base_tok = _load_hf(base_out)
    sha = sha256_file(src)
    base_info = _info_from_tokenizer(base_tok, "base", "spm", base_size, specials, num_units, scoring, src, sha)
    base_info.save(base_out)

    inst_out = os.path.join(output_dir, "instruct")
    os.makedirs(inst_out, exist_ok=True)
    inst_tok = _make_instruct(base_out, inst_out)
    shutil.copyfile(model_path, os.path.join(inst_out, SPM_FILE))
    inst_info = _info_from_tokenizer(inst_tok, "instruct", "spm", base_size, specials, num_units, scoring, src, sha)
    inst_info.save(inst_out)
    return base_info, inst_info


def build_from_added_tokens(base_dir: str, output_dir: str, num_units: int,
                            specials: Sequence[str] = SPIRE_SPECIALS) -> Tuple[TokenizerInfo, TokenizerInfo]:
    """For tokenizers without sentencepiece: specials and units as added tokens, in SPIRE order."""
    from tokenizers import AddedToken

    tok = _load_hf(base_dir)
    base_size = len(tok)
    vocab = tok.get_vocab()
    lo, hi = PUA_OFFSET, PUA_OFFSET + num_units
    bad = [t for t in vocab if any(lo <= ord(c) < hi for c in t)]
    if bad:
        raise ValueError(f"base tokenizer already has tokens with unit characters, e.g. {bad[0]!r}")
    clash = [s for s in specials if s in vocab]
    if clash:
        raise ValueError(f"base tokenizer already has the tokens {clash}")
    new = [AddedToken(s, normalized=False, special=False, lstrip=False, rstrip=False) for s in specials]
    new += [AddedToken(u, normalized=False, special=False, lstrip=False, rstrip=False) for u in unit_strings(num_units)]
    tok.add_tokens(new)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    base_out = os.path.join(output_dir, "base")
    os.makedirs(base_out, exist_ok=True)
    save_tokenizer(tok, base_out)
    base_tok = _load_hf(base_out)
    src = os.path.join(base_dir, "tokenizer.json")
    sha = sha256_file(src) if os.path.isfile(src) else ""
    base_info = _info_from_tokenizer(base_tok, "base", "added_tokens", base_size, specials, num_units, "none",
                                     base_dir, sha)
    base_info.save(base_out)
    inst_out = os.path.join(output_dir, "instruct")
    os.makedirs(inst_out, exist_ok=True)
    inst_tok = _load_hf(base_out)
    base_extras = [str(t) for t in getattr(inst_tok, "extra_special_tokens", []) or []]
    inst_tok.add_special_tokens({"eos_token": IM_END})
    inst_tok.add_special_tokens({"additional_special_tokens": [IM_START]})
    _tidy_specials(inst_tok, base_extras + [IM_START])
    inst_tok.chat_template = TOWER_INSTRUCT_CHAT_TEMPLATE
    save_tokenizer(inst_tok, inst_out)
    inst_tok = _load_hf(inst_out)
    inst_info = _info_from_tokenizer(inst_tok, "instruct", "added_tokens", base_size, specials, num_units, "none",
                                     base_dir, sha)
    inst_info.save(inst_out)
    return base_info, inst_info


def tokenizer_facts(directory: str, info: TokenizerInfo, base_dir: str,
                    kmeans_facts: Optional[Dict[str, object]] = None) -> Dict[str, object]:
    """The ``spire.json`` record of an extended tokenizer dir (see :mod:`espnet_spire.lm.facts`)."""
    from espnet_spire.lm.facts import FACTS_VERSION, dir_name

    return {
        "version": FACTS_VERSION,
        "kind": "tokenizer",
        "variant": info.variant,
        "num_units": info.num_units,
        "unit_format": {"dsu_format": info.dsu_format, "pua_offset": info.pua_offset},
        "unit_ids": {"first": info.unit_offset, "last": info.unit_offset + info.num_units - 1},
        "specials": dict(info.specials),
        "eos_token": info.eos_token,
        "chat_template": getattr(_load_hf(directory), "chat_template", None) is not None,
        "base": {"name": dir_name(base_dir), "tokenizer_sha256": info.source_sha256},
        "kmeans": kmeans_facts,
    }


def extend_tokenizer(base_dir: str, output_dir: str, num_units: int, specials: Sequence[str] = SPIRE_SPECIALS,
                     scoring: str = "bpe", method: str = "auto", check: bool = True,
                     kmeans_facts: Optional[Dict[str, object]] = None) -> Tuple[TokenizerInfo, TokenizerInfo]:
    """Build ``output_dir/base`` and ``output_dir/instruct``; ``method`` is auto, spm or added_tokens.

    Each dir also gets ``spire.json`` (K, unit format and ids, specials, chat template, base, and
    ``kmeans_facts`` of the k-means model the units come from when given).
    """
    from espnet_spire.lm.facts import write_facts

    if method == "auto":
        method = "spm" if os.path.isfile(os.path.join(base_dir, SPM_FILE)) else "added_tokens"
    if method == "spm":
        infos = build_from_spm(base_dir, output_dir, num_units, specials, scoring)
    elif method == "added_tokens":
        infos = build_from_added_tokens(base_dir, output_dir, num_units, specials)
    else:
        raise ValueError(f"method must be auto, spm or added_tokens, got {method!r}")
    if check:
        for variant in ("base", "instruct"):
            d = os.path.join(output_dir, variant)
            problems = check_consistency(d, default_check_texts(num_units))
            if problems:
                raise RuntimeError(f"{d}: tokenizer self-check failed: {problems[0]}")
    for variant, info in zip(("base", "instruct"), infos):
        d = os.path.join(output_dir, variant)
        write_facts(d, tokenizer_facts(d, info, base_dir, kmeans_facts))
    b, i = infos
    logger.info("base tokenizer: len %d, specials %s, units %d..%d; instruct: len %d, <|im_end|> %s, <|im_start|> %s",
                b.length, list(b.specials.values()), b.unit_offset, b.unit_offset + b.num_units - 1,
                i.length, i.im_end_id, i.im_start_id)
    return infos


# ------------------------------------------------------------------ reference encoding and checks


def _spm_processors(model_path: str):
    """Two native processors: with and without the dummy-prefix space."""
    import sentencepiece as spm

    with_prefix = spm.SentencePieceProcessor(model_file=model_path)
    proto = load_spm_proto(model_path)
    proto.normalizer_spec.add_dummy_prefix = False
    without = spm.SentencePieceProcessor()
    without.LoadFromSerializedProto(proto.SerializeToString())
    return with_prefix, without


def reference_encode(tokenizer_dir: str, texts: Sequence[str]) -> List[List[int]]:
    """Native-sentencepiece ids for ``texts`` with HF special tokens spliced in (no BOS).

    Mirrors a sentencepiece-backed ("slow") non-legacy Llama tokenizer: the text is split on the
    HF special/added tokens that are not sentencepiece pieces (``<|im_start|>``, ``</s>``, ...);
    the first segment gets the dummy-prefix space only if it starts the input, later segments
    none; sentencepiece USER_DEFINED pieces are left to sentencepiece.
    """
    tok = _load_hf(tokenizer_dir)
    sp_with, sp_without = _spm_processors(os.path.join(tokenizer_dir, SPM_FILE))
    spm_pieces = {sp_with.id_to_piece(i) for i in range(sp_with.get_piece_size()) if sp_with.is_unknown(i) is False
                  and not sp_with.is_control(i)}
    markers = {str(t): i for t, i in tok.get_added_vocab().items() if str(t) not in spm_pieces}
    out = []
    for text in texts:
        ids: List[int] = []
        pos, seg_start = 0, 0
        first = True
        while pos <= len(text):
            hit = None
            for m in sorted(markers, key=len, reverse=True):
                if text.startswith(m, pos):
                    hit = m
                    break
            if hit is None and pos < len(text):
                pos += 1
                continue
            segment = text[seg_start:pos]
            if segment:
                proc = sp_with if (first and seg_start == 0) else sp_without
                ids.extend(proc.encode(segment))
            first = False
            if hit is None:
                break
            ids.append(markers[hit])
            pos += len(hit)
            seg_start = pos
        out.append(ids)
    return out


def default_check_texts(num_units: int) -> List[str]:
    """Unit strings mixed with text, used by the post-build self-check."""
    u = "".join(pua(i % num_units) for i in (0, 17, 17, 3, num_units - 1))
    return [
        u,
        f"Speech: {u}\nEnglish: hello world",
        f"Speech:{u} English: The cat sat.",
        f"{IM_START}user\nSpeech: {u}\nEnglish:{IM_END}\n{IM_START}assistant\nhello{IM_END}\n",
        f"Translate the following text from English to German.\nEnglish: Hi.\nGerman: Hallo.{u}",
    ]


def check_consistency(tokenizer_dir: str, texts: Sequence[str]) -> List[str]:
    """Compare HF (fast) ids with :func:`reference_encode`; returns readable problems (empty = ok).

    Also checks that a string of L units encodes to exactly L unit ids. Texts starting with
    whitespace are outside the contract (see the module docstring) and are rejected here.
    """
    tok = _load_hf(tokenizer_dir)
    info = TokenizerInfo.load(tokenizer_dir)
    problems = []
    if info.method == "spm" and os.path.isfile(os.path.join(tokenizer_dir, SPM_FILE)):
        for text in texts:
            if text[:1].isspace():
                raise ValueError(f"check texts must not start with whitespace: {text[:20]!r}")
        refs = reference_encode(tokenizer_dir, texts)
        for text, ref in zip(texts, refs):
            got = tok(text, add_special_tokens=False)["input_ids"]
            if got != ref:
                problems.append(f"ids differ for {text[:40]!r}: hf {got[:12]}... vs spm {ref[:12]}...")
    lo, hi = info.unit_offset, info.unit_offset + info.num_units
    for text in texts:
        n_units = sum(1 for c in text if PUA_OFFSET <= ord(c) < PUA_OFFSET + info.num_units)
        got = tok(text, add_special_tokens=False)["input_ids"]
        n_ids = sum(1 for i in got if lo <= i < hi)
        if n_ids != n_units:
            problems.append(f"{n_units} units gave {n_ids} unit ids in {text[:40]!r}")
    return problems
