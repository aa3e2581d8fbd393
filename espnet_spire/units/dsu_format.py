"""Discrete speech unit (DSU) string formats, exactly as SPIRE writes them.

A unit index ``i`` becomes text in one of three ways:

* ``pua``: one character ``chr(0xF0000 + i)`` from Supplementary Private Use Area-A, units
  concatenated with no separator. This is what SPIRE's tokenizer extension expects: each unit is a
  single-character sentencepiece piece, so a string of L units encodes to exactly L token ids.
  The area holds 65534 private-use code points (U+F0000..U+FFFFD), so ``i <= 65533``.
* ``extra_id``: ``<extra_id_{i}>`` concatenated with no separator (T5-style; kept for comparison).
* ``indices``: space-separated decimal ids (SPIRE's ``--as-indices``).

Padding frames carry the label -1; they are removed *before* deduplication, as in SPIRE.
Keeping this module free of heavy imports lets data stages and tokenizer code use it cheaply.
"""

from __future__ import annotations

import unicodedata
from typing import Iterable, List, Literal, Optional, Sequence, Union

PUA_OFFSET = 0xF0000  # 983040: first code point of Supplementary Private Use Area-A
PUA_MAX_INDEX = 0xFFFFD - PUA_OFFSET  # 65533: U+FFFFE/U+FFFFF are noncharacters, not private use
PAD_LABEL = -1
DSU_FORMATS = ("pua", "extra_id", "indices")

DsuFormat = Literal["pua", "extra_id", "indices"]


def _check_index(i: int, num_units: Optional[int] = None, limit: Optional[int] = None) -> int:
    """Return ``i`` as int after checking it is a valid unit id (out-of-range ids are a bug)."""
    if isinstance(i, bool) or not hasattr(i, "__index__"):
        raise TypeError(f"unit id must be an integer, got {type(i).__name__}: {i!r}")
    i = int(i)
    if i < 0:
        raise ValueError(f"unit id {i} is negative")
    if num_units is not None and i >= num_units:
        raise ValueError(f"unit id {i} is outside [0, {num_units}) (K = {num_units})")
    if limit is not None and i > limit:
        raise ValueError(f"unit id {i} exceeds the largest id {limit} this format can encode")
    return i


def pua(i: int, num_units: Optional[int] = None) -> str:
    """Map unit id ``i`` to its private-use character ``chr(0xF0000 + i)``."""
    i = _check_index(i, num_units, PUA_MAX_INDEX)
    return chr(PUA_OFFSET + i)


def depua(c: str) -> int:
    """Inverse of :func:`pua`: a single private-use character back to its unit id."""
    if not isinstance(c, str) or len(c) != 1:
        raise ValueError(f"depua expects a single character, got {c!r}")
    i = ord(c) - PUA_OFFSET
    if not 0 <= i <= PUA_MAX_INDEX or unicodedata.category(c) != "Co":
        raise ValueError(f"character U+{ord(c):04X} is not a DSU (expected U+F0000..U+FFFFD)")
    return i


def extra_id(i: int, num_units: Optional[int] = None) -> str:
    """Map unit id ``i`` to ``<extra_id_{i}>`` (single angle brackets, no padding)."""
    return f"<extra_id_{_check_index(i, num_units)}>"


def indices2dsus(
    indices: Iterable[int], fmt: DsuFormat = "pua", num_units: Optional[int] = None
) -> str:
    """Render a sequence of unit ids as one DSU string; ``num_units`` (K) enables range checks."""
    if fmt == "pua":
        return "".join(pua(i, num_units) for i in indices)
    if fmt == "extra_id":
        return "".join(extra_id(i, num_units) for i in indices)
    if fmt == "indices":
        return " ".join(str(_check_index(i, num_units)) for i in indices)
    raise ValueError(f"unknown DSU format {fmt!r}; choose one of {DSU_FORMATS}")


def dsus2indices(text: str, fmt: DsuFormat = "pua", num_units: Optional[int] = None) -> List[int]:
    """Parse a DSU string back to unit ids (inverse of :func:`indices2dsus`)."""
    if fmt == "pua":
        out = [depua(c) for c in text]
    elif fmt == "indices":
        out = [int(tok) for tok in text.split()]
    elif fmt == "extra_id":
        body = text.strip()
        if not body:
            return []
        if not (body.startswith("<extra_id_") and body.endswith(">")):
            raise ValueError(f"not an extra_id DSU string: {text[:40]!r}")
        out = [int(tok) for tok in body[len("<extra_id_") : -1].split("><extra_id_")]
    else:
        raise ValueError(f"unknown DSU format {fmt!r}; choose one of {DSU_FORMATS}")
    for i in out:
        _check_index(i, num_units)
    return out


def deduplicate(seq: Union[Sequence[int], str]) -> Union[List[int], str]:
    """Collapse runs of consecutive repeats (``[5,5,7,7,5] -> [5,7,5]``).

    A string is treated as a sequence of characters (valid for PUA strings, as SPIRE's
    ``deduplicate.py`` does) and a string is returned; anything else gives a list.
    """
    out = []
    last = object()
    for x in seq:
        if x != last:
            out.append(x)
            last = x
    if isinstance(seq, str):
        return "".join(out)
    return out


def _rows(labels) -> List[List[int]]:
    """Turn a 2-D tensor/array/list of labels into a list of int lists."""
    if hasattr(labels, "tolist"):
        labels = labels.tolist()
    rows = [list(r.tolist() if hasattr(r, "tolist") else r) for r in labels]
    return [[int(x) for x in r] for r in rows]


def detokenize(
    labels,
    deduplicated: bool = True,
    indices_only: bool = False,
    fmt: DsuFormat = "pua",
    num_units: Optional[int] = None,
) -> Union[List[str], List[List[int]]]:
    """Turn a batch of frame labels (padding = -1) into DSU strings or index lists.

    -1 is always dropped first, then runs are collapsed when ``deduplicated``; with
    ``indices_only`` the index lists are returned instead of strings.
    """
    out = []
    for row in _rows(labels):
        for x in row:
            if x < PAD_LABEL:
                raise ValueError(f"invalid label {x}: only -1 (padding) may be negative")
        kept = [x for x in row if x != PAD_LABEL]
        if deduplicated:
            kept = deduplicate(kept)
        out.append(kept if indices_only else indices2dsus(kept, fmt, num_units))
    return out
