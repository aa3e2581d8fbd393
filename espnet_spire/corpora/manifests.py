"""Shared reading helpers of the corpus modules: delimited manifests and audio durations.

Corpora ship their metadata as tsv/csv files with a header row (Common Voice, VoxPopuli,
SPGISpeech) and do not always state durations; these helpers read both the same way for every
corpus, and report problems as ``(id, reason)`` rows for the data dir's ``skipped`` file
instead of failing the whole preparation.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import soundfile as sf

from espnet_spire.common.fileio import PathLike
from espnet_spire.corpora.datadir import Utterance


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


@dataclass
class ManifestUtterances:
    """The utterances of a manifest whose audio is present and readable; the others as
    ``(utt_id, reason)`` rows for the data dir's ``skipped`` file (one loop body for every corpus)."""

    utts: List[Utterance] = field(default_factory=list)
    skipped: List[Tuple[str, str]] = field(default_factory=list)

    def add(self, utt_id: str, speaker: str, audio: str, text: str, seconds: Optional[float] = None) -> None:
        """Keep the utterance if :func:`checked_duration` accepts ``audio``, else skip it with the reason."""
        seconds, problem = checked_duration(audio, seconds)
        if problem:
            self.skipped.append((utt_id, problem))
        else:
            self.utts.append(Utterance(utt_id, speaker, audio, text, duration=seconds))

    def result(self) -> Tuple[List[Utterance], List[Tuple[str, str]]]:
        return self.utts, self.skipped
