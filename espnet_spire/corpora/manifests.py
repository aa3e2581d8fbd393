"""Shared reading helpers of the corpus modules: delimited manifests and audio durations.

Corpora ship their metadata as tsv/csv files with a header row (Common Voice, VoxPopuli,
SPGISpeech) and do not always state durations; these helpers read both the same way for every
corpus, and report problems as ``(id, reason)`` rows for the data dir's ``skipped`` file
instead of failing the whole preparation.
"""

from __future__ import annotations

import csv
import os
from typing import Dict, Iterator, Optional, Sequence, Tuple

import soundfile as sf

from espnet_spire.common.fileio import PathLike


def read_table(path: PathLike, delimiter: str, required: Sequence[str] = ()) -> Iterator[Dict[str, str]]:
    """Rows of a delimited manifest with a header line, as ``{column: value}``.

    Quotes are not special (transcripts contain ``"``), so a row is split on the delimiter only.
    A missing ``required`` column raises ``ValueError`` naming the file and the columns it has.
    """
    csv.field_size_limit(1 << 24)
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter=delimiter, quoting=csv.QUOTE_NONE)
        columns = reader.fieldnames or []
        missing = [c for c in required if c not in columns]
        if missing:
            raise ValueError(f"{path}: missing column(s) {missing}; the header has {columns}")
        for row in reader:
            yield {k: (v or "") for k, v in row.items() if k is not None}


def audio_seconds(path: PathLike) -> Optional[float]:
    """Duration of an audio file from its header (no decoding); ``None`` when it cannot be read."""
    try:
        info = sf.info(str(path))
    except (RuntimeError, OSError, sf.LibsndfileError):
        return None
    if info.samplerate <= 0:
        return None
    return info.frames / info.samplerate


def require_dir(path: PathLike, what: str) -> None:
    """Fail with a message naming the expected layout when a corpus directory is missing."""
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{what} not found: {path}")


def checked_duration(path: PathLike, seconds: Optional[float] = None) -> Tuple[Optional[float], Optional[str]]:
    """``(seconds, None)`` for a present, readable audio file, else ``(None, reason)`` for ``skipped``.

    ``seconds`` known from a manifest is trusted; otherwise the file's header is read.
    """
    if not os.path.isfile(path):
        return None, "missing_audio"
    if seconds is None:
        seconds = audio_seconds(path)
    return (seconds, None) if seconds is not None else (None, "unreadable_audio")
