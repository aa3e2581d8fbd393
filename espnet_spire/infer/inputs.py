"""What ``spire-infer`` reads: audio files, directories, ``wav.scp`` files, or MT text lines.

Audio goes through the stage-2 path (:func:`espnet_spire.audio.format_job.process_audio`:
downmix, resample to 16 kHz with the chosen resampler, quantise to 16-bit as the dump is
written), so a recording gives the same units here as in the recipe. Long audio is cut into
windows (:func:`split_windows`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Tuple

import numpy as np

from espnet_spire.audio.format_job import FormatOptions, process_audio
from espnet_spire.audio.resample import DEFAULT_RESAMPLER
from espnet_spire.audio.wav_scp import AudioReadError, check_waveform, load_audio
from espnet_spire.common.kaldi_dir import read_kaldi_dict

SAMPLE_RATE = 16000
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".sph", ".aiff", ".aif")
SCP_SUFFIX = ".scp"


@dataclass(frozen=True)
class Source:
    """One input: its id and where it comes from (a path, a ``wav.scp`` value, or MT text)."""

    id: str
    entry: str


class InputError(ValueError):
    """The inputs themselves are wrong (missing path, duplicate ids): nothing is decoded."""


def _from_path(path: Path) -> List[Source]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
        if not files:
            raise InputError(f"{path}: no audio files ({', '.join(AUDIO_SUFFIXES)}) in this directory")
        return [Source(p.stem, str(p)) for p in files]
    if path.suffix == SCP_SUFFIX:
        return [Source(k, v) for k, v in read_kaldi_dict(path).items()]
    if not path.is_file():
        raise InputError(f"input not found: {path}")
    return [Source(path.stem, str(path))]


def _check_ids(sources: Sequence[Source]) -> List[Source]:
    seen = {}
    for s in sources:
        if s.id in seen:
            raise InputError(f"two inputs have the id {s.id!r} ({seen[s.id]} and {s.entry}): "
                             "rename one or list them in a wav.scp with distinct ids")
        if not s.id or any(c.isspace() for c in s.id):
            raise InputError(f"{s.entry}: the id {s.id!r} is empty or has white space; use a wav.scp")
        seen[s.id] = s.entry
    return list(sources)


def audio_sources(inputs: Iterable[str]) -> List[Source]:
    """Files (id: the file name without extension), directories (their audio files, recursively,
    sorted) and ``*.scp`` files (Kaldi ``wav.scp``: ``id path`` or ``id command |``)."""
    out: List[Source] = []
    for item in inputs:
        out += _from_path(Path(item))
    if not out:
        raise InputError("no inputs given")
    return _check_ids(out)


def text_sources(inputs: Iterable[str]) -> List[Source]:
    """MT inputs: every non-empty line of each text file is one input, id ``<file stem>-<line>``."""
    out: List[Source] = []
    for item in inputs:
        path = Path(item)
        if not path.is_file():
            raise InputError(f"input not found: {path}")
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, start=1):
                if line.strip():
                    out.append(Source(f"{path.stem}-{n:06d}", line.strip()))
    if not out:
        raise InputError("no input text lines")
    return _check_ids(out)


def load_waveform(entry: str, resampler: str = DEFAULT_RESAMPLER,
                  min_samples: int = 400) -> Tuple[Optional[np.ndarray], Optional[str]]:
    """16 kHz mono float32 samples of one input, exactly as stage 2 dumps them and stage 5 reads
    them back; ``(None, why)`` when the input is unreadable, empty, non-finite or too short."""
    try:
        audio, rate = load_audio(entry, always_2d=True)
    except AudioReadError as e:
        return None, f"unreadable: {e}"
    except OSError as e:
        return None, f"unreadable: {e}"
    opts = FormatOptions(fs=SAMPLE_RATE, min_samples=min_samples, resampler=resampler)
    pcm, reason = process_audio(audio, rate, opts, segmented=False)
    if pcm is None:
        return None, reason
    wav = pcm.astype(np.float32) / 32768.0
    reason = check_waveform(wav, min_samples)
    return (None, reason) if reason else (wav, None)


def split_windows(num_samples: int, max_chunk_s: float, sample_rate: int = SAMPLE_RATE) -> List[Tuple[int, int]]:
    """The window rule: audio longer than ``max_chunk_s`` is cut into ``ceil(duration / max_chunk_s)``
    windows of equal length (to the sample), decoded one by one and their texts joined by a space;
    ``max_chunk_s <= 0`` never cuts. Equal windows avoid a tail too short to carry any word."""
    limit = int(round(max_chunk_s * sample_rate))
    if max_chunk_s <= 0 or num_samples <= limit:
        return [(0, num_samples)]
    n = math.ceil(num_samples / limit)
    bounds = [round(i * num_samples / n) for i in range(n + 1)]
    return list(zip(bounds[:-1], bounds[1:]))

