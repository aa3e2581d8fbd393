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
from typing import Dict, Iterator, List, Optional, Tuple

from espnet_spire.common.fileio import iter_json_lines
from espnet_spire.common.kaldi_dir import read_kaldi_dict
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


def iter_jsonl_conversations(path: str) -> Iterator[Tuple[int, Dict]]:
    """``(line number, record)`` for each non-empty line of a ShareGPT/TowerBlocks JSONL file."""
    for lineno, rec, error in iter_json_lines(path):
        if error is not None:
            raise ValueError(f"{path}:{lineno}: not JSON: {error}")
        if "conversations" not in rec:
            raise ValueError(f"{path}:{lineno}: no 'conversations' field")
        yield lineno, rec
