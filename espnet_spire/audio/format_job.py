"""Stage 2 of spire.sh: turn ``data/<set>`` audio into 16 kHz mono files under ``dump/raw/<set>``.

Work is split like ESPnet's ``format_wav_scp.sh``: the recipe splits the utterance list into
``nj`` key files and runs one job per key file (``${cmd} JOB=1:nj``); each job writes

    <out_dir>/data/format.<JOB>/<uttid>.<wav|flac>   the audio (16-bit PCM)
    <out_dir>/data/format.<JOB>/wav.scp              uttid -> audio path
    <out_dir>/data/format.<JOB>/utt2num_samples      uttid -> samples at the target rate
    <out_dir>/data/format.<JOB>/failed               uttid -> why it was dropped
    <out_dir>/data/format.<JOB>/.done                JSON marker, written last

then :func:`merge_jobs` combines the pieces into ``<out_dir>/{wav.scp,utt2num_samples,failed}``
and copies the other data files restricted to the surviving utterances.

Bad input never stops a job: an utterance that cannot be read, is a WAV cut short of what its
header promises (``truncated: header says N samples, file has M``), is empty, holds NaN/Inf, is
shorter than ``min_samples`` after resampling, or whose segment has zero length goes to
``failed`` with its reason.  The merge fails when more than ``max_failed_ratio`` of the set
failed (default 5 %): a handful of broken files is normal in crawled corpora, a larger share
means something systematic (wrong paths, missing codec) that must not be trained on silently.

Restart: a job whose ``.done`` marker matches its inputs and options is skipped; an unfinished
one is redone from scratch.  All outputs are deterministic, so a restarted run produces files
byte-identical to an uninterrupted one.  Paths in ``wav.scp`` are written as
``<out_dir>/data/format.<JOB>/<file>`` with ``out_dir`` as given (relative to the recipe
directory in the recipe, as in ESPnet).
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import soundfile as sf
from tqdm import tqdm

from espnet_spire.audio.resample import (
    DEFAULT_RESAMPLER,
    check_resampler,
    downmix,
    resample,
    resampler_settings,
    to_pcm16,
)
from espnet_spire.audio.wav_scp import (
    AudioReadError,
    Segment,
    TruncatedAudioError,
    WavScpReader,
    read_segments,
    segment_problem,
)
from espnet_spire.common import jobs
from espnet_spire.common.fileio import PathLike
from espnet_spire.common.hashing import sha256_files, sha256_text_lines
from espnet_spire.common.jobs import DEFAULT_MAX_FAILED_RATIO, MIN_SAMPLES, JobError
from espnet_spire.common.kaldi_dir import (
    SOURCE_FILE,
    filter_kaldi_file,
    iter_kaldi_file,
    read_kaldi_dict,
    sort_key,
    utt2spk_to_spk2utt,
    write_kaldi_file,
    write_spk2utt,
)

logger = logging.getLogger(__name__)

DONE_MARKER = ".done"
AUDIO_FORMATS = {"wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16")}
# Files of data/<set> that describe the original recordings and are not carried into dump/.
_NOT_COPIED = {
    "wav.scp",
    "segments",
    "utt2num_samples",
    "utt2dur",
    "utt2num_frames",
    "feats.scp",
    "cmvn.scp",
    "frame_shift",
    "spk2utt",
    "failed",
}


@dataclass(frozen=True)
class FormatOptions:
    """How every utterance is written; part of the done marker, so a change redoes jobs."""

    fs: int = 16000
    audio_format: str = "wav"
    min_samples: int = MIN_SAMPLES
    resampler: str = DEFAULT_RESAMPLER

    def __post_init__(self) -> None:
        check_resampler(self.resampler)
        if self.audio_format not in AUDIO_FORMATS:
            raise ValueError(f"audio_format must be one of {sorted(AUDIO_FORMATS)}")
        if self.fs <= 0 or self.min_samples < 1:
            raise ValueError("fs must be positive and min_samples at least 1")


@dataclass
class JobResult:
    """Counts of one job (``skipped``: an earlier run had already finished it)."""

    num_ok: int
    num_failed: int
    skipped: bool


class FormatError(JobError):
    """Stage 2 cannot produce a usable directory (missing jobs, too many failures, ...)."""


def job_dir(out_dir: PathLike, job: Union[int, str]) -> Path:
    """Where job ``job`` writes: ``<out_dir>/data/format.<job>`` (ESPnet's layout)."""
    return Path(out_dir) / "data" / f"format.{job}"


def audio_file_name(utt: str, audio_format: str) -> str:
    """File name for an utterance; ``/`` and ``%`` are escaped so any Kaldi id is safe."""
    return utt.replace("%", "%25").replace("/", "%2F") + "." + audio_format


def _job_signature(data_dir: Path, keys: Sequence[str], opts: FormatOptions, jdir: Path) -> str:
    """Hash of what a finished job depends on; a marker with another signature is stale."""
    return jobs.signature({
        "job_dir": str(jdir),  # written into wav.scp
        "options": asdict(opts),
        "resample": resampler_settings(opts.resampler),
        "keys_sha256": sha256_text_lines(keys),
        "data_sha256": sha256_files([data_dir / "wav.scp", data_dir / "segments"]),
    })


def process_audio(
    audio: np.ndarray, rate: int, opts: FormatOptions, segmented: bool
) -> Tuple[Optional[np.ndarray], Optional[str]]:
    """Check, downmix and resample one utterance: ``(int16 samples, None)`` or ``(None, why)``."""
    if audio.size == 0:
        if segmented:
            return None, "zero length after segmentation (segment outside the recording)"
        return None, "empty audio (0 samples)"
    if not np.isfinite(audio).all():
        return None, "non-finite samples (NaN/Inf)"
    mono = downmix(audio)
    out = resample(mono, rate, opts.fs, opts.resampler)
    if len(out) < opts.min_samples:
        return None, (
            f"too short: {len(out)} samples at {opts.fs} Hz after resampling "
            f"(minimum {opts.min_samples})"
        )
    return to_pcm16(out), None


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def job_is_done(
    data_dir: PathLike,
    keys: Sequence[str],
    out_dir: PathLike,
    job: Union[int, str],
    opts: FormatOptions = FormatOptions(),
) -> bool:
    """True when an earlier run finished this job with the same inputs and options."""
    jdir = job_dir(out_dir, job)
    return jobs.is_done(jdir, _job_signature(Path(data_dir), keys, opts, jdir), DONE_MARKER)


def run_format_job(
    data_dir: PathLike,
    keys: Sequence[str],
    out_dir: PathLike,
    job: Union[int, str],
    opts: FormatOptions = FormatOptions(),
) -> JobResult:
    """Format the utterances ``keys`` of ``data_dir`` into ``job_dir(out_dir, job)``.

    Raises only for problems of the recipe itself (unknown keys, malformed segments syntax,
    unwritable output); problems of individual recordings end up in the ``failed`` piece.
    """
    data_dir = Path(data_dir)
    jdir = job_dir(out_dir, job)
    sig = _job_signature(data_dir, keys, opts, jdir)
    if jobs.is_done(jdir, sig, DONE_MARKER):
        summary = jobs.read_done(jdir, DONE_MARKER)["summary"]
        logger.info("job %s already finished (%s); skipping", job, jdir / DONE_MARKER)
        return JobResult(summary["num_ok"], summary["num_failed"], skipped=True)
    if jdir.exists():
        shutil.rmtree(jdir)
    jdir.mkdir(parents=True)

    wav_scp = read_kaldi_dict(data_dir / "wav.scp")
    segments: Optional[Dict[str, Segment]] = None
    if (data_dir / "segments").is_file():
        segments = read_segments(data_dir / "segments")
    reader = WavScpReader(wav_scp, segments, always_2d=True)
    unknown = [k for k in keys if k not in reader]
    if unknown:
        raise FormatError(
            f"{len(unknown)} keys are not utterances of {data_dir}, first '{unknown[0]}'"
        )

    fmt, subtype = AUDIO_FORMATS[opts.audio_format]
    ok_scp: List[Tuple[str, str]] = []
    ok_len: List[Tuple[str, str]] = []
    failed: List[Tuple[str, str]] = []
    for utt in tqdm(keys, desc=f"format job {job}", unit="utt", disable=None):
        pcm, reason = _read_and_process(reader, utt, segments, opts)
        if pcm is None:
            reason = _one_line(reason or "unknown error")
            logger.warning("%s: dropped: %s", utt, reason)
            failed.append((utt, reason))
            continue
        path = jdir / audio_file_name(utt, opts.audio_format)
        sf.write(str(path), pcm, opts.fs, format=fmt, subtype=subtype)
        ok_scp.append((utt, str(path)))
        ok_len.append((utt, str(len(pcm))))

    write_kaldi_file(jdir / "wav.scp", ok_scp)
    write_kaldi_file(jdir / "utt2num_samples", ok_len)
    write_kaldi_file(jdir / "failed", failed)
    summary = {"num_ok": len(ok_scp), "num_failed": len(failed), "audio_format": opts.audio_format}
    jobs.mark_done(jdir, sig, summary, DONE_MARKER)
    logger.info("job %s: %d utterances written, %d failed", job, len(ok_scp), len(failed))
    return JobResult(len(ok_scp), len(failed), skipped=False)


def _read_and_process(
    reader: WavScpReader,
    utt: str,
    segments: Optional[Dict[str, Segment]],
    opts: FormatOptions,
) -> Tuple[Optional[np.ndarray], Optional[str]]:
    """Never raises for bad audio: any decoding problem becomes a reason string."""
    if segments is not None:
        problem = segment_problem(segments[utt])
        if problem is not None:
            return None, f"zero length after segmentation: {problem}"
    try:
        audio, rate = reader[utt]
    except TruncatedAudioError as e:
        return None, f"truncated: {e}"
    except AudioReadError as e:
        return None, f"unreadable: {e}"
    except Exception as e:  # noqa: BLE001 - one odd file must not kill the job
        logger.debug("unexpected error on %s", utt, exc_info=True)
        return None, f"unreadable: {type(e).__name__}: {e}"
    try:
        return process_audio(audio, rate, opts, segmented=segments is not None)
    except Exception as e:  # noqa: BLE001
        logger.debug("unexpected error on %s", utt, exc_info=True)
        return None, f"processing failed: {type(e).__name__}: {e}"


@dataclass
class MergeResult:
    """What the merge produced."""

    num_ok: int
    num_failed: int
    copied: List[str]
    skipped: List[str]

    @property
    def failed_ratio(self) -> float:
        return jobs.failed_ratio(self.num_failed, self.num_ok + self.num_failed)


def merge_jobs(
    data_dir: PathLike,
    out_dir: PathLike,
    nj: int,
    max_failed_ratio: float = DEFAULT_MAX_FAILED_RATIO,
) -> MergeResult:
    """Combine ``nj`` finished jobs into ``out_dir`` and copy the per-utterance data files.

    Fails (``FormatError``) when a job is unfinished, when the jobs do not cover exactly the
    utterances of ``data_dir``, or when failed/total > ``max_failed_ratio``; in the last case
    only ``failed`` is written (and stale ``wav.scp``/``utt2num_samples`` removed) so the
    directory cannot be mistaken for a finished one.
    """
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    pieces = [job_dir(out_dir, j) for j in range(1, nj + 1)]
    unfinished = jobs.unfinished(pieces, DONE_MARKER)
    if unfinished:
        raise FormatError(f"{len(unfinished)} of {nj} jobs did not finish: {unfinished[:5]}")
    formats = {jobs.read_done(p, DONE_MARKER)["summary"]["audio_format"] for p in pieces}
    if len(formats) != 1:
        raise FormatError(f"jobs used different audio formats: {sorted(formats)}")

    wav_scp = jobs.merge_pieces(pieces, "wav.scp", read_kaldi_dict, FormatError)
    num_samples = jobs.merge_pieces(pieces, "utt2num_samples", read_kaldi_dict, FormatError)
    failed = jobs.merge_pieces(pieces, "failed", read_kaldi_dict, FormatError)
    both = set(wav_scp) & set(failed)
    if both:
        raise FormatError(f"'{min(both)}' is both formatted and failed")
    if (data_dir / "segments").is_file():
        utts = set(read_segments(data_dir / "segments"))
    else:
        utts = set(read_kaldi_dict(data_dir / "wav.scp"))
    done = set(wav_scp) | set(failed)
    if done != utts:
        missing, extra = sorted(utts - done, key=sort_key), sorted(done - utts, key=sort_key)
        raise FormatError(
            f"jobs do not cover {data_dir}: {len(missing)} utterances missing "
            f"{missing[:3]}, {len(extra)} unknown {extra[:3]} (was nj changed?)"
        )

    out_dir.mkdir(parents=True, exist_ok=True)
    write_kaldi_file(out_dir / "failed", failed)
    result = MergeResult(len(wav_scp), len(failed), [], [])
    try:
        if not wav_scp:
            raise FormatError(
                f"no utterance of {data_dir} could be formatted; reasons in {out_dir / 'failed'}"
            )
        jobs.check_failure_budget(len(failed), len(utts), max_failed_ratio, out_dir / "failed", FormatError)
    except FormatError:
        for name in ("wav.scp", "utt2num_samples"):
            (out_dir / name).unlink(missing_ok=True)
        raise
    if failed:
        logger.warning(
            "%d of %d utterances dropped (%.2f%%); see %s",
            len(failed), len(utts), 100 * result.failed_ratio, out_dir / "failed",
        )

    write_kaldi_file(out_dir / "wav.scp", wav_scp)
    write_kaldi_file(out_dir / "utt2num_samples", num_samples)
    utt_file = "segments" if (data_dir / "segments").is_file() else "wav.scp"
    _copy_data_files(data_dir, out_dir, set(wav_scp), result, (utts, utt_file))
    (out_dir / "feats_type").write_text("raw\n", encoding="utf-8")
    # where the copied data files came from: the data check names that file for a bad line
    (out_dir / SOURCE_FILE).write_text(f"{data_dir}\n", encoding="utf-8")
    (out_dir / "audio_format").write_text(formats.pop() + "\n", encoding="utf-8")
    return result


def _warn_unknown_ids(path: Path, utts: Tuple[set, str]) -> None:
    """Lines of a per-utterance file whose id is no utterance of the set are not copied: say so,
    naming the file (stage 1's check refuses them; a data dir edited later would lose them
    silently otherwise)."""
    known, utt_file = utts
    unknown = [line.key for line in iter_kaldi_file(path) if line.key and line.key not in known]
    if unknown:
        first = ", ".join(repr(k) for k in unknown[:3]) + (", ..." if len(unknown) > 3 else "")
        logger.warning("%s: %d id%s not in %s (%s), not copied", path, len(unknown),
                       "s" if len(unknown) > 1 else "", utt_file, first)


def _copy_data_files(data_dir: Path, out_dir: Path, keep: set, result: MergeResult,
                     utts: Tuple[set, str]) -> None:
    """Per-utterance files filtered to ``keep``; spk2utt rebuilt; speaker files filtered.

    ``utts``: the set's utterance ids and the file that lists them (ids of other files that are
    not among them are named in a warning)."""
    names = sorted(p.name for p in data_dir.iterdir() if p.is_file() and not p.name.startswith("."))
    speakers: Optional[set] = None
    if "utt2spk" in names:
        _warn_unknown_ids(data_dir / "utt2spk", utts)
        utt2spk = {u: s for u, s in read_kaldi_dict(data_dir / "utt2spk").items() if u in keep}
        write_kaldi_file(out_dir / "utt2spk", utt2spk)
        write_spk2utt(out_dir / "spk2utt", utt2spk_to_spk2utt(utt2spk))
        speakers = set(utt2spk.values())
        result.copied += ["utt2spk", "spk2utt"]
    for name in names:
        if name == "utt2spk" or (name == "spk2utt" and speakers is not None):
            continue  # handled above
        if name in _NOT_COPIED or name.startswith("reco2"):
            result.skipped.append(name)
        elif name == "text" or name.startswith("text.") or name.startswith("utt2"):
            _warn_unknown_ids(data_dir / name, utts)
            filter_kaldi_file(data_dir / name, out_dir / name, keep)
            result.copied.append(name)
        elif name.startswith("spk2") and speakers is not None:
            filter_kaldi_file(data_dir / name, out_dir / name, speakers)
            result.copied.append(name)
        else:
            result.skipped.append(name)
    if result.skipped:
        logger.info("not copied to %s: %s", out_dir, " ".join(result.skipped))
