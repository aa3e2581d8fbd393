"""Reading references and hypotheses and pairing them by utterance id.

Decode directories hold Kaldi-style ``text`` files (``uttid hyp``); references are the data
directory's ``text`` / ``text.tc.<lang>``.  Output of other systems (baselines) may also be plain
lines in the order of the reference; :func:`load_hypotheses` accepts both.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from espnet_spire.common.fileio import PathLike
from espnet_spire.common.kaldi_dir import read_kaldi_dict

HYP_FORMATS = ("auto", "kaldi", "plain")


def read_text(path: PathLike) -> Dict[str, str]:
    """Kaldi ``uttid text`` file -> ordered dict (empty texts allowed, duplicate ids raise)."""
    return read_kaldi_dict(path, allow_empty_value=True)


def read_lines(path: PathLike) -> List[str]:
    """Plain text lines without their line ends (trailing blanks removed, as sacrebleu does)."""
    with open(path, encoding="utf-8") as f:
        return [line.rstrip() for line in f.read().splitlines()]


def load_hypotheses(path: PathLike, ref_ids: Sequence[str], fmt: str = "auto") -> Dict[str, str]:
    """Hypotheses keyed by utterance id.

    ``kaldi``: ``uttid hyp`` lines.  ``plain``: one hypothesis per line, aligned with ``ref_ids``
    (the reference order); the line count must match.  ``auto``: Kaldi when the first field of
    every line is a reference id, else plain.
    """
    if fmt not in HYP_FORMATS:
        raise ValueError(f"unknown hypothesis format {fmt!r}; choose one of {HYP_FORMATS}")
    if fmt == "auto":
        lines = read_lines(path)
        ids = set(ref_ids)
        firsts = [ln.split(maxsplit=1)[0] if ln.split() else "" for ln in lines]
        fmt = "kaldi" if lines and all(x in ids for x in firsts) else "plain"
        logging.info("%s: hypothesis format detected as %s", path, fmt)
    if fmt == "kaldi":
        return read_text(path)
    lines = read_lines(path)
    if len(lines) != len(ref_ids):
        raise ValueError(
            f"{path}: {len(lines)} plain hypothesis lines but the reference has {len(ref_ids)} "
            "utterances; plain hypotheses must be aligned line by line with the reference "
            "(or give Kaldi 'uttid hyp' lines)"
        )
    return dict(zip(ref_ids, lines))


@dataclass
class Paired:
    """References and hypotheses in reference order; missing hypotheses are empty strings."""

    ids: List[str]
    refs: List[str]
    hyps: List[str]
    missing: List[str] = field(default_factory=list)


def pair_up(
    refs: Dict[str, str], hyps: Dict[str, str], allow_missing: bool = True, what: str = ""
) -> Paired:
    """Pair hypotheses with references by id.

    A hypothesis for an id that is not in the reference is an error (wrong reference file).  A
    missing hypothesis counts as an empty output (so failed decodes are scored as errors, never
    silently dropped) unless ``allow_missing`` is false; the ids are returned in ``missing``.
    """
    extra = [k for k in hyps if k not in refs]
    if extra:
        raise ValueError(
            f"{what}{len(extra)} hypothesis ids are not in the reference, e.g. {extra[:3]}; "
            "is it the reference of the right test set?"
        )
    missing = [k for k in refs if k not in hyps]
    if missing:
        if not allow_missing:
            raise ValueError(f"{what}{len(missing)} reference ids have no hypothesis, e.g. {missing[:3]}")
        logging.warning(
            "%s%d of %d utterances have no hypothesis; they are scored as empty outputs (e.g. %s)",
            what,
            len(missing),
            len(refs),
            missing[:3],
        )
    ids = list(refs)
    return Paired(ids, [refs[k] for k in ids], [hyps.get(k, "") for k in ids], missing)


def read_utt2spk(path: Optional[PathLike]) -> Optional[Dict[str, str]]:
    """``utt2spk`` as a dict, or None when ``path`` is None or does not exist."""
    if path is None or not os.path.exists(path):
        return None
    return read_kaldi_dict(path, allow_empty_value=False)
