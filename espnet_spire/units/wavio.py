"""Reading the 16 kHz audio of a formatted dump dir (stage 2 output) for unit extraction.

Stage 2 writes ``wav.scp`` lines ``uttid /path/to/file.{wav,flac}`` pointing at 16 kHz mono
files, so this module only needs soundfile. Two kinds of problems are told apart on purpose:

* **set-up errors** (no such file, pipe commands, wrong sample rate, several channels, unknown
  keys) mean the dump itself is wrong; they raise :class:`AudioSetupError` naming the file and line,
  and the job stops;
* **bad recordings** (undecodable, empty, shorter than one frame, NaN/Inf samples) are per
  utterance; :func:`check_waveform` / :func:`load_utterance` return a reason code so the caller can
  list the utterance in ``failed`` and carry on.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

from espnet_spire.units.jobs import UnitsError

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
MIN_SAMPLES = 400  # one 25 ms analysis window = the HuBERT receptive field (compat vector 9)

# Reason codes written to the ``failed`` file.
UNREADABLE = "unreadable"
EMPTY = "empty"
TOO_SHORT = "too_short"
NON_FINITE = "non_finite"


class AudioSetupError(UnitsError):
    """The dump dir is inconsistent (not a per-utterance problem): stop the job."""


@dataclass(frozen=True)
class WavEntry:
    """One ``wav.scp`` line: where it came from matters for error messages."""

    uttid: str
    path: str
    source: str
    lineno: int

    def where(self) -> str:
        return f"{self.source}:{self.lineno}"


def read_wav_scp(path: str) -> Dict[str, WavEntry]:
    """Read ``uttid path`` lines; relative paths are taken as relative to the current directory."""
    if not os.path.isfile(path):
        raise AudioSetupError(f"wav.scp not found: {path}")
    entries: Dict[str, WavEntry] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            parts = line.split(maxsplit=1)
            if len(parts) != 2:
                raise AudioSetupError(f"{path}:{lineno}: expected 'uttid path', got {line!r}")
            uttid, value = parts[0], parts[1].strip()
            if value.endswith("|"):
                raise AudioSetupError(
                    f"{path}:{lineno}: pipe commands are not supported here; point at the "
                    "formatted 16 kHz dump (stage 2 output) instead"
                )
            if uttid in entries:
                raise AudioSetupError(f"{path}:{lineno}: duplicate utterance id {uttid!r}")
            entries[uttid] = WavEntry(uttid, value, path, lineno)
    return entries


def read_key_file(path: str) -> List[Tuple[str, int]]:
    """Read a key list (first column of each line), keeping line numbers for messages."""
    if not os.path.isfile(path):
        raise AudioSetupError(f"key file not found: {path}")
    keys: List[Tuple[str, int]] = []
    seen = set()
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            key = line.split(maxsplit=1)[0]
            if key in seen:
                raise AudioSetupError(f"{path}:{lineno}: duplicate key {key!r}")
            seen.add(key)
            keys.append((key, lineno))
    return keys


def select_entries(wav_scp: str, key_file: Optional[str]) -> List[WavEntry]:
    """Entries of ``wav_scp`` for the keys of ``key_file`` (all, in file order, when None)."""
    entries = read_wav_scp(wav_scp)
    if key_file is None:
        return list(entries.values())
    out = []
    for key, lineno in read_key_file(key_file):
        if key not in entries:
            raise AudioSetupError(f"{key_file}:{lineno}: key {key!r} is not in {wav_scp}")
        out.append(entries[key])
    return out


def check_waveform(wav: np.ndarray, min_samples: int = MIN_SAMPLES) -> Optional[str]:
    """Reason code when a decoded waveform cannot give units, None when it is fine."""
    if wav.size == 0:
        return EMPTY
    if wav.size < min_samples:
        return TOO_SHORT
    if not np.all(np.isfinite(wav)):
        return NON_FINITE
    return None


def load_utterance(
    entry: WavEntry, sample_rate: int = SAMPLE_RATE, min_samples: int = MIN_SAMPLES
) -> Tuple[Optional[np.ndarray], Optional[str]]:
    """Decode one utterance as float32 mono; returns ``(wav, None)`` or ``(None, reason)``."""
    import soundfile as sf

    if not os.path.isfile(entry.path):
        raise AudioSetupError(f"{entry.where()}: audio file of {entry.uttid!r} not found: {entry.path}")
    try:
        wav, rate = sf.read(entry.path, dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises several types for corrupt data
        logger.warning("%s: cannot decode %s (%s)", entry.where(), entry.path, exc)
        return None, UNREADABLE
    if rate != sample_rate:
        raise AudioSetupError(
            f"{entry.where()}: {entry.path} is {rate} Hz, expected {sample_rate} Hz; "
            "unit extraction reads the stage-2 dump, which must be resampled"
        )
    if wav.shape[1] != 1:
        raise AudioSetupError(
            f"{entry.where()}: {entry.path} has {wav.shape[1]} channels, expected mono (stage-2 dump)"
        )
    wav = np.ascontiguousarray(wav[:, 0])
    reason = check_waveform(wav, min_samples)
    if reason is not None:
        logger.warning("%s: %s: %s (%d samples)", entry.where(), entry.uttid, reason, wav.size)
        return None, reason
    return wav, None
