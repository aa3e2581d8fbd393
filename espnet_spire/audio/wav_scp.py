"""Read the audio behind a ``wav.scp`` entry, optionally cut by a ``segments`` file.

A ``wav.scp`` value is either a file path (anything libsndfile decodes: wav, flac, sph, ogg,
and mp3 with libsndfile >= 1.1) or a Kaldi pipe command ending in ``|`` whose stdout is an
audio file (e.g. ``sox in.mp3 -t wav - |``).  Pipes run through ``bash`` with ``pipefail`` so
that a failure anywhere in the pipeline is reported, not only in its last command.

Samples come back as float32 in [-1, 1) (integer PCM is divided by 2**(bits-1), soundfile's
convention), shaped ``(samples,)`` for mono or ``(samples, channels)``.

The unit stages (3 and 5) read the stage-2 dump, whose ``wav.scp`` must point at 16 kHz mono
files; :func:`select_entries` and :func:`load_utterance` tell two kinds of problems apart:

* **set-up errors** (no such file, pipe commands, wrong sample rate, several channels, unknown
  keys) mean the dump itself is wrong; they raise :class:`AudioSetupError` naming the file and
  line, and the job stops;
* **bad recordings** (undecodable, empty, shorter than one frame, NaN/Inf samples) are per
  utterance; :func:`check_waveform` / :func:`load_utterance` return a reason code so the caller
  can list the utterance in ``failed`` and carry on.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
from dataclasses import dataclass
from typing import Dict, Iterator, List, Mapping, NamedTuple, Optional, Tuple

import numpy as np
import soundfile as sf

from espnet_spire.audio.wav_header import wav_truncation
from espnet_spire.common.jobs import MIN_SAMPLES, JobError
from espnet_spire.common.kaldi_dir import PathLike, iter_kaldi_file, read_kaldi_dict

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
# Reason codes written to the ``failed`` file of the unit stages.
UNREADABLE = "unreadable"
EMPTY = "empty"
TOO_SHORT = "too_short"
NON_FINITE = "non_finite"


class AudioReadError(RuntimeError):
    """The audio of one entry could not be decoded (bad path, failed pipe, corrupt data)."""


class TruncatedAudioError(AudioReadError):
    """A WAV file holds fewer samples than its header promises (cut by a failed copy)."""


class AudioSetupError(JobError):
    """The dump dir is inconsistent (not a per-utterance problem): stop the job."""


class Segment(NamedTuple):
    """A ``segments`` line: recording id, start and end in seconds (``end=None``: to the end)."""

    recording: str
    start: float
    end: Optional[float]


def parse_segment(value: str) -> Segment:
    """Parse ``recid start end`` (the part after the utterance id); bad syntax raises ValueError.

    ``end`` of ``-1`` means "to the end of the recording" (Kaldi convention).  Values that
    parse but make no sense (end before start) are reported by :func:`segment_problem`.
    """
    fields = value.split()
    if len(fields) != 3:
        raise ValueError(f"expected 'recid start end', got {len(fields)} fields")
    recording = fields[0]
    try:
        start, end = float(fields[1]), float(fields[2])
    except ValueError as e:
        raise ValueError(f"start/end are not numbers: {fields[1]!r} {fields[2]!r}") from e
    if not (np.isfinite(start) and np.isfinite(end)):
        raise ValueError("start/end must be finite")
    return Segment(recording, start, None if end == -1 else end)


def segment_problem(seg: Segment) -> Optional[str]:
    """Why a syntactically valid segment cannot give audio (``None`` when it is fine).

    Kept apart from parsing so that stage 2 can drop such an utterance instead of failing.
    """
    if seg.start < 0:
        return f"negative start time {seg.start}"
    if seg.end is not None and seg.end <= seg.start:
        return f"zero-length segment (end {seg.end} <= start {seg.start})"
    return None


def read_segments(path: PathLike) -> Dict[str, Segment]:
    """Read a segments file into ``{uttid: Segment}``; unparsable lines raise KaldiFormatError."""
    return read_kaldi_dict(path, parse=parse_segment)


def is_pipe(entry: str) -> bool:
    """True for a Kaldi pipe entry (a shell command whose stdout is the audio)."""
    return entry.rstrip().endswith("|")


def run_pipe(entry: str) -> bytes:
    """Run a pipe entry through ``bash -o pipefail`` and return its stdout; errors raise."""
    command = entry.rstrip()[:-1].strip()
    if not command:
        raise AudioReadError("empty pipe command")
    proc = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        check=False,
    )
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        tail = " / ".join(err[-3:]) if err else "no stderr"
        raise AudioReadError(f"pipe command exited with status {proc.returncode}: {tail}")
    if not proc.stdout:
        raise AudioReadError("pipe command produced no output")
    return proc.stdout


def _frame(seconds: float, rate: int) -> int:
    """Seconds to a sample index; rounding (not flooring) avoids 2.01*16000 -> 32159."""
    return int(round(seconds * rate))


def _check_readable_path(path: str) -> None:
    """Clear errors for the common cases libsndfile reports only as 'System error'."""
    if not os.path.exists(path):
        raise AudioReadError(f"no such file: '{path}'")
    if os.path.isdir(path):
        raise AudioReadError(f"'{path}' is a directory")
    if path.lower().endswith(".mp3") and "MP3" not in sf.available_formats():
        raise AudioReadError(
            f"libsndfile {sf.__libsndfile_version__} cannot decode MP3 ({path}); use "
            "libsndfile >= 1.1 (soundfile >= 0.12 wheels) or a pipe entry such as "
            "'ffmpeg -nostdin -i in.mp3 -f wav - |'"
        )


def _read_file(
    path: str, start: float = 0.0, end: Optional[float] = None
) -> Tuple[np.ndarray, int]:
    """Decode ``path`` (2-D float32), seeking to the segment instead of reading everything."""
    _check_readable_path(path)
    cut_short = wav_truncation(path)
    if cut_short is not None:
        raise TruncatedAudioError(f"header says {cut_short[0]} samples, file has {cut_short[1]} ('{path}')")
    try:
        with sf.SoundFile(path) as f:
            rate = f.samplerate
            first = _frame(start, rate)
            if first == 0 and end is None:
                data = f.read(dtype="float32", always_2d=True)
            else:
                last = None if end is None else _frame(end, rate)
                if f.seekable() and f.frames > 0:
                    first_c = min(first, f.frames)
                    last_c = f.frames if last is None else min(max(last, first_c), f.frames)
                    f.seek(first_c)
                    data = f.read(last_c - first_c, dtype="float32", always_2d=True)
                else:
                    data = f.read(dtype="float32", always_2d=True)[first:last]
    except (sf.LibsndfileError, RuntimeError, OSError) as e:
        raise AudioReadError(f"cannot decode '{path}': {e}") from e
    return data, rate


def _decode_bytes(data: bytes) -> Tuple[np.ndarray, int]:
    try:
        return sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as e:
        raise AudioReadError(f"cannot decode the pipe output ({len(data)} bytes): {e}") from e


def cut(array: np.ndarray, rate: int, start: float, end: Optional[float]) -> np.ndarray:
    """Samples of ``array`` between ``start`` and ``end`` seconds (``None``: to the end)."""
    first = _frame(start, rate)
    last = None if end is None else _frame(end, rate)
    return array[first:last]


def _shape(array: np.ndarray, always_2d: bool) -> np.ndarray:
    if not always_2d and array.ndim == 2 and array.shape[1] == 1:
        return array[:, 0]
    return array


def load_audio(
    entry: str,
    start: float = 0.0,
    end: Optional[float] = None,
    always_2d: bool = False,
) -> Tuple[np.ndarray, int]:
    """Decode one ``wav.scp`` value, optionally only ``[start, end)`` seconds of it.

    Args:
        entry: file path or pipe command ending in ``|``.
        start: segment start in seconds.
        end: segment end in seconds, ``None`` (or -1) for the end of the recording.
        always_2d: return ``(samples, channels)`` even for mono.

    Returns:
        ``(samples, rate)`` with float32 samples.

    Raises:
        AudioReadError: the entry cannot be decoded.
    """
    if end is not None and end < 0:
        end = None
    entry = entry.strip()
    if not entry:
        raise AudioReadError("empty wav.scp entry")
    if is_pipe(entry):
        data, rate = _decode_bytes(run_pipe(entry))
        data = cut(data, rate, start, end)
    else:
        data, rate = _read_file(entry, start, end)
    return _shape(data, always_2d), rate


class WavScpReader(Mapping[str, Tuple[np.ndarray, int]]):
    """``{uttid: (samples, rate)}`` view of a data directory's ``wav.scp`` (+ ``segments``).

    With segments, the decoded output of the most recent pipe recording is cached, so that the
    usual case of consecutive segments of one piped recording runs the command only once.
    File recordings are read by seeking and need no cache.
    """

    def __init__(
        self,
        wav_scp: Mapping[str, str],
        segments: Optional[Mapping[str, Segment]] = None,
        always_2d: bool = False,
    ) -> None:
        self.wav_scp = wav_scp
        self.segments = segments
        self.always_2d = always_2d
        self._cache_key: Optional[str] = None
        self._cache: Optional[Tuple[np.ndarray, int]] = None

    def __len__(self) -> int:
        return len(self.segments if self.segments is not None else self.wav_scp)

    def __iter__(self) -> Iterator[str]:
        return iter(self.segments if self.segments is not None else self.wav_scp)

    def __contains__(self, utt: object) -> bool:
        # Mapping's default would call __getitem__, i.e. decode the audio.
        return utt in (self.segments if self.segments is not None else self.wav_scp)

    def keys_list(self) -> List[str]:
        """Utterance ids in file order."""
        return list(self)

    def entry(self, utt: str) -> str:
        """The wav.scp value behind an utterance (its recording's when segmented)."""
        if self.segments is None:
            return self.wav_scp[utt]
        return self.wav_scp[self.segments[utt].recording]

    def __getitem__(self, utt: str) -> Tuple[np.ndarray, int]:
        if self.segments is None:
            return load_audio(self.wav_scp[utt], always_2d=self.always_2d)
        seg = self.segments[utt]
        if seg.recording not in self.wav_scp:
            raise AudioReadError(f"recording '{seg.recording}' is not in wav.scp")
        entry = self.wav_scp[seg.recording]
        if not is_pipe(entry):
            return load_audio(entry, seg.start, seg.end, always_2d=self.always_2d)
        if self._cache_key != seg.recording:
            self._cache_key, self._cache = None, None
            self._cache = load_audio(entry, always_2d=True)
            self._cache_key = seg.recording
        assert self._cache is not None
        full, rate = self._cache
        return _shape(cut(full, rate, seg.start, seg.end), self.always_2d), rate


class AudioInfo(NamedTuple):
    """What a full decode of one entry found (used by the data-dir checker)."""

    rate: int
    channels: int
    frames: int
    finite: bool


def probe_audio(entry: str, blocksize: int = 1 << 16) -> AudioInfo:
    """Decode a whole ``wav.scp`` entry block by block and describe it.

    Reading every block (not just the header) catches corrupt or truncated compressed data;
    reading in blocks keeps memory flat for hour-long recordings.

    Raises:
        AudioReadError: the entry cannot be decoded.
    """
    entry = entry.strip()
    if not entry:
        raise AudioReadError("empty wav.scp entry")
    if is_pipe(entry):
        source: object = io.BytesIO(run_pipe(entry))
        name = "the pipe output"
    else:
        _check_readable_path(entry)
        source, name = entry, f"'{entry}'"
    frames, finite = 0, True
    try:
        with sf.SoundFile(source) as f:
            rate, channels = f.samplerate, f.channels
            for block in f.blocks(blocksize, dtype="float32", always_2d=True):
                frames += len(block)
                if finite and not np.isfinite(block).all():
                    finite = False
    except (sf.LibsndfileError, RuntimeError, OSError) as e:
        raise AudioReadError(f"cannot decode {name}: {e}") from e
    return AudioInfo(rate, channels, frames, finite)


@dataclass(frozen=True)
class WavEntry:
    """One line of a formatted dump's ``wav.scp``: where it came from matters for error messages."""

    uttid: str
    path: str
    source: str
    lineno: int

    def where(self) -> str:
        return f"{self.source}:{self.lineno}"


def read_wav_scp(path: str) -> Dict[str, WavEntry]:
    """Read a formatted dump's ``uttid path`` lines (no pipes); relative paths are taken as
    relative to the current directory."""
    if not os.path.isfile(path):
        raise AudioSetupError(f"wav.scp not found: {path}")
    entries: Dict[str, WavEntry] = {}
    for line in iter_kaldi_file(path):
        if not line.key and not line.value:
            continue
        value = line.value
        if not line.key or not value:
            raise AudioSetupError(
                f"{path}:{line.lineno}: expected 'uttid path', got {(line.key + ' ' + value).strip()!r}"
            )
        if is_pipe(value):
            raise AudioSetupError(
                f"{path}:{line.lineno}: pipe commands are not supported here; point at the "
                "formatted 16 kHz dump (stage 2 output) instead"
            )
        if line.key in entries:
            raise AudioSetupError(f"{path}:{line.lineno}: duplicate utterance id {line.key!r}")
        entries[line.key] = WavEntry(line.key, value, path, line.lineno)
    return entries


def read_key_file(path: str) -> List[Tuple[str, int]]:
    """Read a key list (first column of each line), keeping line numbers for messages."""
    if not os.path.isfile(path):
        raise AudioSetupError(f"key file not found: {path}")
    keys: List[Tuple[str, int]] = []
    seen = set()
    for line in iter_kaldi_file(path):
        if not line.key and not line.value:
            continue
        if not line.key:
            raise AudioSetupError(f"{path}:{line.lineno}: line starts with a blank")
        key = line.key
        if key in seen:
            raise AudioSetupError(f"{path}:{line.lineno}: duplicate key {key!r}")
        seen.add(key)
        keys.append((key, line.lineno))
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
    """Decode one dump utterance as float32 mono; returns ``(wav, None)`` or ``(None, reason)``."""
    if not os.path.isfile(entry.path):
        raise AudioSetupError(f"{entry.where()}: audio file of {entry.uttid!r} not found: {entry.path}")
    try:
        wav, rate = load_audio(entry.path, always_2d=True)
    except AudioReadError as exc:
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
