"""Readers for the recipe's text inputs, shared by the CPT, IT and decoding stages.

* units files (``dump/units/<set>/units``): ``uttid units``; PUA strings are used as they are,
  space-separated indices or ``<extra_id_N>`` strings are converted to PUA (the tokenizer only
  knows PUA characters);
* Kaldi ``text`` / ``text.tc.<lang>`` files: ``uttid text``;
* MT dirs: aligned ``text.tc.<lang>`` files with the same ids;
* TowerBlocks-style JSONL: ``{"conversations": [{"from": ..., "value": ...}, ...]}``.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Dict, Iterable, Iterator, List, Optional, Tuple

from espnet_spire.common.fileio import iter_json_lines
from espnet_spire.common.kaldi_dir import KaldiFormatError, iter_kaldi_file, read_kaldi_dict, sort_key
from espnet_spire.units.dsu_format import PUA_MAX_INDEX, PUA_OFFSET, dsus2indices, indices2dsus

logger = logging.getLogger(__name__)

_INDICES_RE = re.compile(r"^\d+( \d+)*$")


class UnitFormatError(ValueError):
    """A units line is neither PUA, indices nor extra_id, or a unit is out of range."""


def to_pua(value: str, num_units: Optional[int] = None) -> str:
    """Normalise one units value to a PUA string (empty stays empty); range-checked against K."""
    value = value.strip()
    if not value:
        return ""
    if all(PUA_OFFSET <= ord(c) <= PUA_OFFSET + PUA_MAX_INDEX for c in value):
        if num_units is not None:
            bad = [c for c in value if ord(c) - PUA_OFFSET >= num_units]
            if bad:
                raise UnitFormatError(f"unit {ord(bad[0]) - PUA_OFFSET} >= K={num_units}")
        return value
    try:
        if _INDICES_RE.match(value):
            return indices2dsus(dsus2indices(value, "indices", num_units), "pua")
        if value.startswith("<extra_id_"):
            return indices2dsus(dsus2indices(value, "extra_id", num_units), "pua")
    except ValueError as e:
        raise UnitFormatError(str(e)) from None
    raise UnitFormatError(f"not a units string: {value[:30]!r}")


def read_units(path: str) -> Dict[str, str]:
    """``{uttid: raw units value}`` in file order (conversion happens per example, so one bad line
    is skipped rather than failing the whole stage)."""
    return read_kaldi_dict(path)


def read_text(path: str) -> Dict[str, str]:
    """``{uttid: text}`` of a Kaldi text file, values stripped."""
    return {k: v.strip() for k, v in read_kaldi_dict(path).items()}


def text_file(directory: str, lang: str, pattern: str = "text.tc.{lang}") -> str:
    """Path of a language's text file in a Kaldi-style dir."""
    return os.path.join(directory, pattern.format(lang=lang))


def read_parallel(directory: str, src: str, tgt: str, pattern: str = "text.tc.{lang}") -> List[Tuple[str, str, str]]:
    """``[(id, source, target)]`` for ids present in both language files, in source-file order."""
    s = read_text(text_file(directory, src, pattern))
    t = read_text(text_file(directory, tgt, pattern))
    missing = len(set(s) ^ set(t))
    if missing:
        logger.warning("%s: %d ids are in only one of %s/%s", directory, missing, src, tgt)
    return [(k, s[k], t[k]) for k in s if k in t]


# ------------------------------------------------------------------ streaming readers (flat memory)


def iter_pairs(path: str) -> Iterator[Tuple[str, str]]:
    """``(id, value)`` in file order, one line in memory at a time; a blank id raises as in
    :func:`read_kaldi_dict`."""
    for line in iter_kaldi_file(path):
        if not line.key:
            raise KaldiFormatError(path, line.lineno, "empty line or line starting with a blank")
        yield line.key, line.value


def is_sorted_unique(path: str) -> bool:
    """True when the ids rise strictly in ``LC_ALL=C`` order (a Kaldi dir's rule): such files can be
    joined and read as streams; others fall back to the in-memory readers."""
    last = None
    for key, _ in iter_pairs(path):
        k = sort_key(key)
        if last is not None and k <= last:
            return False
        last = k
    return True


def _merge(a: Iterable[Tuple[str, str]], b: Iterable[Tuple[str, str]]
           ) -> Iterator[Tuple[str, Optional[str], Optional[str]]]:
    """Full outer join of two id-sorted streams: ``(id, a value or None, b value or None)``."""
    ia, ib = iter(a), iter(b)
    x, y = next(ia, None), next(ib, None)
    while x is not None or y is not None:
        if y is None or (x is not None and sort_key(x[0]) < sort_key(y[0])):
            yield x[0], x[1], None
            x = next(ia, None)
        elif x is None or sort_key(y[0]) < sort_key(x[0]):
            yield y[0], None, y[1]
            y = next(ib, None)
        else:
            yield x[0], x[1], y[1]
            x, y = next(ia, None), next(ib, None)


def iter_joined(path_a: str, path_b: str) -> Iterator[Tuple[str, Optional[str], Optional[str]]]:
    """``(id, a, b)`` for every id of two Kaldi files, a value None where its file lacks the id.

    Ids present in ``path_b`` come in ``path_b``'s order, preceded by the ids only in ``path_a``
    when the files are not both sorted. Sorted files (every prepared dir) are merged as streams,
    so memory stays flat as the corpus grows; others are read whole, as before.
    """
    if is_sorted_unique(path_a) and is_sorted_unique(path_b):
        yield from _merge(iter_pairs(path_a), iter_pairs(path_b))
        return
    logger.warning("%s or %s is not sorted by id: read into memory", path_a, path_b)
    a, b = read_kaldi_dict(path_a), read_kaldi_dict(path_b)
    for key, value in a.items():
        if key not in b:
            yield key, value, None
    for key, value in b.items():
        yield key, a.get(key), value


def iter_text(path: str) -> Iterator[Tuple[str, str]]:
    """:func:`read_text`'s items as a stream (sorted files) or from the dict (others)."""
    if is_sorted_unique(path):
        for key, value in iter_pairs(path):
            yield key, value.strip()
    else:
        yield from read_text(path).items()


def iter_parallel(directory: str, src: str, tgt: str, pattern: str = "text.tc.{lang}"
                  ) -> Iterator[Tuple[str, str, str]]:
    """:func:`read_parallel` as a stream: ``(id, source, target)`` for ids in both files."""
    only_one = 0
    # the source file goes second: its order is the order of the pairs
    for key, t, s in iter_joined(text_file(directory, tgt, pattern), text_file(directory, src, pattern)):
        if s is None or t is None:
            only_one += 1
            continue
        yield key, s.strip(), t.strip()
    if only_one:
        logger.warning("%s: %d ids are in only one of %s/%s", directory, only_one, src, tgt)


def iter_jsonl_conversations(path: str) -> Iterator[Tuple[int, Dict]]:
    """``(line number, record)`` for each non-empty line of a ShareGPT/TowerBlocks JSONL file."""
    for lineno, rec, error in iter_json_lines(path):
        if error is not None:
            raise ValueError(f"{path}:{lineno}: not JSON: {error}")
        if "conversations" not in rec:
            raise ValueError(f"{path}:{lineno}: no 'conversations' field")
        yield lineno, rec
