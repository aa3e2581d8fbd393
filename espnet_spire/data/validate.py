"""Check a Kaldi-style data directory before the recipe spends hours on it.

Catches what breaks later stages in confusing ways: files not sorted in ``LC_ALL=C`` byte
order (Kaldi's ``filter_scp``/``join`` silently drop lines), duplicate ids, empty values,
files that disagree on the set of utterances, spk2utt out of sync with utt2spk, and audio that
does not decode.  Every problem is collected first; the caller reports the first occurrence of
each kind per file and fails once.

Which files are per-utterance: ``text``, ``text.*`` (e.g. translations ``text.deu``),
``utt2*`` and ``feats.scp``.  The utterance list is ``segments`` when present, else ``wav.scp``.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple, Union

from tqdm import tqdm

from espnet_spire.audio.wav_scp import (
    AudioInfo,
    AudioReadError,
    Segment,
    parse_segment,
    probe_audio,
    segment_problem,
)
from espnet_spire.common.fileio import write_json
from espnet_spire.common.kaldi_dir import (
    SOURCE_FILE,
    KaldiLine,
    has_invalid_utf8,
    iter_kaldi_file,
    sort_key,
)

logger = logging.getLogger(__name__)

# A segment may end this far past its recording and is then truncated; further is an error.
SEGMENT_MAX_OVERSHOOT = 0.5


@dataclass(frozen=True)
class Issue:
    """One problem found, located by file and (when it applies) 1-based line number."""

    kind: str
    path: str
    lineno: Optional[int]
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.lineno}" if self.lineno else self.path
        return f"{where}: [{self.kind}] {self.message}"


@dataclass
class Summary:
    """What the directory holds; durations, rates and channels only when audio was decoded."""

    num_utts: int = 0
    num_speakers: int = 0
    num_recordings: int = 0
    audio_checked: bool = False
    total_seconds: float = 0.0
    rates: Counter = field(default_factory=Counter)
    channels: Counter = field(default_factory=Counter)

    def to_dict(self) -> dict:
        """JSON-friendly form (counter keys become strings)."""
        return {
            "num_utts": self.num_utts,
            "num_speakers": self.num_speakers,
            "num_recordings": self.num_recordings,
            "audio_checked": self.audio_checked,
            "total_hours": round(self.total_seconds / 3600.0, 6),
            "sample_rates": {str(k): v for k, v in sorted(self.rates.items())},
            "channels": {str(k): v for k, v in sorted(self.channels.items())},
        }

    def format(self) -> str:
        """Human-readable multi-line summary."""
        lines = [
            f"utterances: {self.num_utts}, speakers: {self.num_speakers}, "
            f"recordings: {self.num_recordings}"
        ]
        if self.audio_checked:
            lines.append(f"total: {self.total_seconds / 3600.0:.3f} hours")
            lines.append(f"sample rates: {dict(sorted(self.rates.items()))}")
            lines.append(f"channels: {dict(sorted(self.channels.items()))}")
        else:
            lines.append("audio not checked")
        return "\n".join(lines)


@dataclass
class ValidationResult:
    """All errors and warnings of one directory plus its summary."""

    data_dir: str
    errors: List[Issue] = field(default_factory=list)
    warnings: List[Issue] = field(default_factory=list)
    summary: Summary = field(default_factory=Summary)

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, kind: str, path: Union[str, Path], lineno: Optional[int], msg: str) -> None:
        self.errors.append(Issue(kind, str(path), lineno, msg))

    def warn(self, kind: str, path: Union[str, Path], lineno: Optional[int], msg: str) -> None:
        self.warnings.append(Issue(kind, str(path), lineno, msg))

    @staticmethod
    def _first_of_each(issues: List[Issue]) -> List[Tuple[Issue, int]]:
        groups: Dict[Tuple[str, str], List[Issue]] = {}
        for issue in issues:
            groups.setdefault((issue.path, issue.kind), []).append(issue)
        return [(group[0], len(group)) for group in groups.values()]

    def first_errors(self) -> List[Tuple[Issue, int]]:
        """First error of each kind per file, with how many errors of that kind the file has."""
        return self._first_of_each(self.errors)

    def first_warnings(self) -> List[Tuple[Issue, int]]:
        """First warning of each kind per file, with counts."""
        return self._first_of_each(self.warnings)


def describe(first: List[Tuple[Issue, int]]) -> List[str]:
    """Render grouped issues, e.g. ``text:4: [unsorted] ... (+2 more of this kind)``."""
    out = []
    for issue, count in first:
        more = f" (+{count - 1} more of this kind)" if count > 1 else ""
        out.append(f"{issue}{more}")
    return out


def _is_utt_file(name: str) -> bool:
    return name == "text" or name.startswith("text.") or name.startswith("utt2") or (
        name == "feats.scp"
    )


def _is_text_file(name: str) -> bool:
    return name == "text" or name.startswith("text.")


def scan_file(
    path: Path, result: ValidationResult, value_required: bool
) -> Dict[str, KaldiLine]:
    """Check format, encoding, sort order and uniqueness of one file; return ``{id: line}``.

    Only the first line of a duplicated id is kept.  Empty values are errors when
    ``value_required`` and warnings otherwise (an empty transcript is legal but suspicious).
    """
    table: Dict[str, KaldiLine] = {}
    prev: Optional[KaldiLine] = None
    for line in iter_kaldi_file(path):
        if has_invalid_utf8(line.key) or has_invalid_utf8(line.value):
            result.error("encoding", path, line.lineno, "line is not valid UTF-8")
        if not line.key:
            result.error("format", path, line.lineno, "empty line or line starting with a blank")
            continue
        if not line.value:
            if value_required:
                result.error("empty value", path, line.lineno, f"id '{line.key}' has no value")
            else:
                result.warn("empty value", path, line.lineno, f"id '{line.key}' has no value")
        if _is_text_file(path.name) and any(c in line.key for c in "()"):
            result.warn("id for sclite", path, line.lineno,
                        f"id '{line.key}' has '(' or ')': WER scoring (stage 13) cannot take it")
        if line.key in table:
            result.error(
                "duplicate id",
                path,
                line.lineno,
                f"id '{line.key}' already on line {table[line.key].lineno}",
            )
        else:
            table[line.key] = line
        if prev is not None and sort_key(line.key) < sort_key(prev.key):
            result.error(
                "unsorted",
                path,
                line.lineno,
                f"id '{line.key}' comes after '{prev.key}' (line {prev.lineno}); "
                "sort with LC_ALL=C sort",
            )
        prev = line
    return table


def _compare_ids(
    result: ValidationResult,
    path: Path,
    table: Dict[str, KaldiLine],
    ref_path: Path,
    ref: Dict[str, KaldiLine],
) -> None:
    """Every id of ``path`` must be in ``ref`` and vice versa (report lines in both files)."""
    for key, line in table.items():
        if key not in ref:
            result.error(
                "unknown id", path, line.lineno, f"id '{key}' is not in {ref_path.name}"
            )
    for key, line in ref.items():
        if key not in table:
            result.error(
                "missing id",
                path,
                None,
                f"utterance '{key}' ({ref_path.name} line {line.lineno}) has no line here",
            )


def _check_spk2utt(
    result: ValidationResult,
    spk2utt_path: Path,
    spk2utt: Dict[str, KaldiLine],
    utt2spk_path: Path,
    utt2spk: Dict[str, KaldiLine],
) -> None:
    """spk2utt must list exactly the utt2spk utterances, each under its utt2spk speaker."""
    seen: Dict[str, int] = {}
    for spk, line in spk2utt.items():
        for utt in line.value.split():
            if utt in seen:
                result.error(
                    "spk2utt mismatch",
                    spk2utt_path,
                    line.lineno,
                    f"utterance '{utt}' listed again (first on line {seen[utt]})",
                )
                continue
            seen[utt] = line.lineno
            if utt not in utt2spk:
                result.error(
                    "spk2utt mismatch",
                    spk2utt_path,
                    line.lineno,
                    f"utterance '{utt}' of speaker '{spk}' is not in utt2spk",
                )
            elif utt2spk[utt].value != spk:
                result.error(
                    "spk2utt mismatch",
                    spk2utt_path,
                    line.lineno,
                    f"utterance '{utt}' is under speaker '{spk}' but utt2spk says "
                    f"'{utt2spk[utt].value}'",
                )
    for utt, line in utt2spk.items():
        if utt not in seen:
            result.error(
                "spk2utt mismatch",
                spk2utt_path,
                None,
                f"utterance '{utt}' (utt2spk line {line.lineno}) is missing from spk2utt",
            )


def _check_spk_sort(result: ValidationResult, path: Path, utt2spk: Dict[str, KaldiLine]) -> None:
    """Kaldi's speaker-prefix rule: sorting by speaker must also sort by utterance."""
    by_spk = sorted(utt2spk.values(), key=lambda ln: (sort_key(ln.value), sort_key(ln.key)))
    for prev, cur in zip(by_spk, by_spk[1:]):
        if sort_key(cur.key) < sort_key(prev.key):
            result.error(
                "speaker order",
                path,
                cur.lineno,
                f"sorted by speaker, '{cur.key}' comes after '{prev.key}'; prefix utterance "
                "ids with the speaker id (or run without --spk_sort)",
            )
            return


def _parallel_map(fn, items: List[str], nj: int, desc: str) -> Iterator:
    """``map`` with a progress bar, over ``nj`` threads (decoding releases the GIL)."""
    bar = tqdm(total=len(items), desc=desc, unit="file", disable=None, leave=False)
    try:
        if nj <= 1:
            for item in items:
                yield fn(item)
                bar.update()
        else:
            with ThreadPoolExecutor(max_workers=nj) as pool:
                for out in pool.map(fn, items):
                    yield out
                    bar.update()
    finally:
        bar.close()


def _probe(entry: str) -> Union[AudioInfo, str]:
    try:
        return probe_audio(entry)
    except AudioReadError as e:
        return str(e)


def _check_audio(
    result: ValidationResult,
    wav_path: Path,
    wav: Dict[str, KaldiLine],
    segments: Optional[Dict[str, Tuple[KaldiLine, Segment]]],
    seg_path: Path,
    num_samples: Optional[Dict[str, KaldiLine]],
    num_samples_path: Path,
    nj: int,
) -> None:
    """Decode every recording once and derive per-utterance durations, rates and channels."""
    if segments is None:
        recordings = list(wav)
    else:
        used = {seg.recording for _, seg in segments.values()}
        recordings = [rec for rec in wav if rec in used]
    entries = [wav[rec].value for rec in recordings]
    infos: Dict[str, AudioInfo] = {}
    for rec, info in zip(recordings, _parallel_map(_probe, entries, nj, "decoding audio")):
        line = wav[rec]
        if isinstance(info, str):
            result.error("unreadable audio", wav_path, line.lineno, f"'{rec}': {info}")
            continue
        if info.frames == 0:
            result.error("empty audio", wav_path, line.lineno, f"'{rec}' has no samples")
            continue
        if not info.finite:
            result.error("non-finite audio", wav_path, line.lineno, f"'{rec}' has NaN/Inf samples")
        infos[rec] = info

    summary = result.summary
    summary.audio_checked = True
    for utt, frames, rate, channels, lineno, path in _utterance_lengths(
        result, infos, wav, segments, wav_path, seg_path
    ):
        summary.total_seconds += frames / rate
        summary.rates[rate] += 1
        summary.channels[channels] += 1
        if num_samples is not None and utt in num_samples:
            ns_line = num_samples[utt]
            if ns_line.value.strip().isdigit() and int(ns_line.value) != frames:
                result.error(
                    "num_samples mismatch",
                    num_samples_path,
                    ns_line.lineno,
                    f"'{utt}' says {ns_line.value} samples, the audio has {frames} "
                    f"({path.name} line {lineno})",
                )


def _utterance_lengths(
    result: ValidationResult,
    infos: Dict[str, AudioInfo],
    wav: Dict[str, KaldiLine],
    segments: Optional[Dict[str, Tuple[KaldiLine, Segment]]],
    wav_path: Path,
    seg_path: Path,
) -> Iterator[Tuple[str, int, int, int, int, Path]]:
    """Yield ``(utt, frames, rate, channels, lineno, file)`` for every decodable utterance."""
    if segments is None:
        for rec, info in infos.items():
            yield rec, info.frames, info.rate, info.channels, wav[rec].lineno, wav_path
        return
    for utt, (line, seg) in segments.items():
        info = infos.get(seg.recording)
        if info is None or segment_problem(seg) is not None:
            continue
        duration = info.frames / info.rate
        first = int(round(seg.start * info.rate))
        if first >= info.frames:
            result.error(
                "segment out of range",
                seg_path,
                line.lineno,
                f"'{utt}' starts at {seg.start} s, after the end of '{seg.recording}' "
                f"({duration:.3f} s)",
            )
            continue
        if seg.end is not None and seg.end > duration + SEGMENT_MAX_OVERSHOOT:
            result.error(
                "segment out of range",
                seg_path,
                line.lineno,
                f"'{utt}' ends at {seg.end} s, more than {SEGMENT_MAX_OVERSHOOT} s after the "
                f"end of '{seg.recording}' ({duration:.3f} s)",
            )
            continue
        last = info.frames if seg.end is None else min(int(round(seg.end * info.rate)), info.frames)
        yield utt, last - first, info.rate, info.channels, line.lineno, seg_path


def _check_segments(
    result: ValidationResult,
    path: Path,
    table: Dict[str, KaldiLine],
    wav: Dict[str, KaldiLine],
) -> Dict[str, Tuple[KaldiLine, Segment]]:
    """Parse segments; each must be well-formed and point at a recording of wav.scp."""
    parsed: Dict[str, Tuple[KaldiLine, Segment]] = {}
    for utt, line in table.items():
        try:
            seg = parse_segment(line.value)
        except ValueError as e:
            result.error("bad segment", path, line.lineno, f"'{utt}': {e}")
            continue
        problem = segment_problem(seg)
        if problem is not None:
            result.error("bad segment", path, line.lineno, f"'{utt}': {problem}")
        if seg.recording not in wav:
            result.error(
                "unknown recording",
                path,
                line.lineno,
                f"'{utt}' refers to recording '{seg.recording}', which is not in wav.scp",
            )
            continue
        parsed[utt] = (line, seg)
    used = {seg.recording for _, seg in parsed.values()}
    for rec, line in wav.items():
        if rec not in used:
            result.warn(
                "unused recording",
                path.parent / "wav.scp",
                line.lineno,
                f"recording '{rec}' has no segment",
            )
    return parsed


def _check_numeric(
    result: ValidationResult, path: Path, table: Dict[str, KaldiLine], integer: bool
) -> None:
    for key, line in table.items():
        text = line.value.strip()
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            value = None
        if value is None or not value > 0:
            what = "positive integer" if integer else "positive number"
            msg = f"'{key}': expected a {what}, got '{text}'"
            result.error("bad value", path, line.lineno, msg)


def validate_data_dir(
    data_dir: Union[str, Path],
    check_audio: bool = True,
    check_text: bool = True,
    spk_sort: bool = False,
    nj: int = 1,
) -> ValidationResult:
    """Validate ``data_dir``; never raises for data problems, they land in the result.

    Args:
        data_dir: Kaldi-style directory (wav.scp, utt2spk, spk2utt, text, ...).
        check_audio: decode every recording fully (slow part; ``--no_audio`` skips it).
        check_text: require ``text`` and check ``text``/``text.*`` (``--no_text`` skips them).
        spk_sort: also require Kaldi's "sorted by speaker == sorted by utterance" rule.
        nj: decoding threads.
    """
    root = Path(data_dir)
    result = ValidationResult(str(root))
    if not root.is_dir():
        result.error("missing directory", root, None, "not a directory")
        return result

    required = ["wav.scp", "utt2spk", "spk2utt"] + (["text"] if check_text else [])
    for name in required:
        if not (root / name).is_file():
            hint = ""
            if name == "spk2utt":
                hint = " (make it: utils/utt2spk_to_spk2utt.sh utt2spk > spk2utt)"
            result.error("missing file", root / name, None, f"required file is missing{hint}")

    names = sorted(p.name for p in root.iterdir() if p.is_file() and not p.name.startswith("."))
    tables: Dict[str, Dict[str, KaldiLine]] = {}
    for name in names:
        is_text = _is_text_file(name)
        if is_text and not check_text:
            continue
        if name in ("wav.scp", "segments", "spk2utt", "utt2spk") or _is_utt_file(name) or (
            name.startswith("spk2") or name.startswith("reco2")
        ):
            tables[name] = scan_file(root / name, result, value_required=not is_text)

    wav = tables.get("wav.scp", {})
    segments: Optional[Dict[str, Tuple[KaldiLine, Segment]]] = None
    if "segments" in tables:
        segments = _check_segments(result, root / "segments", tables["segments"], wav)
        utt_name, utts = "segments", tables["segments"]
    else:
        utt_name, utts = "wav.scp", wav

    for name, table in tables.items():
        if _is_utt_file(name) or name == "utt2spk":
            _compare_ids(result, root / name, table, root / utt_name, utts)
    for name in ("utt2num_samples", "utt2num_frames"):
        if name in tables:
            _check_numeric(result, root / name, tables[name], integer=True)
    if "utt2dur" in tables:
        _check_numeric(result, root / "utt2dur", tables["utt2dur"], integer=False)

    utt2spk = tables.get("utt2spk")
    if utt2spk is not None and "spk2utt" in tables:
        _check_spk2utt(result, root / "spk2utt", tables["spk2utt"], root / "utt2spk", utt2spk)
    if utt2spk is not None and spk_sort:
        _check_spk_sort(result, root / "utt2spk", utt2spk)

    summary = result.summary
    summary.num_utts = len(utts)
    summary.num_recordings = len(wav)
    summary.num_speakers = len({line.value for line in (utt2spk or {}).values()})

    if check_audio and wav:
        _check_audio(
            result,
            root / "wav.scp",
            wav,
            segments,
            root / "segments",
            tables.get("utt2num_samples"),
            root / "utt2num_samples",
            nj,
        )
    _name_sources(result, root)
    return result


# Files of a stage-2 dump that stage 2 writes itself; the others are copies of the data dir's.
_WRITTEN_BY_STAGE2 = {"wav.scp", "utt2num_samples", "spk2utt"}


def _name_sources(result: ValidationResult, root: Path) -> None:
    """In a derived dir (``SOURCE_FILE``), say which data-dir file a copied file's bad line
    comes from: that is the file to fix (line numbers differ where utterances were dropped)."""
    src = root / SOURCE_FILE
    if not src.is_file():
        return
    data_dir = src.read_text(encoding="utf-8").strip()
    for issues in (result.errors, result.warnings):
        for i, issue in enumerate(issues):
            name = Path(issue.path).name
            if Path(issue.path).parent == root and name not in _WRITTEN_BY_STAGE2:
                issues[i] = Issue(issue.kind, issue.path, issue.lineno,
                                  f"{issue.message} (a copy of {data_dir}/{name}: fix it there)")


def write_summary_json(result: ValidationResult, path: Union[str, os.PathLike]) -> None:
    """Machine-readable result for recipes (summary plus error/warning counts)."""
    data = {
        "data_dir": result.data_dir,
        "ok": result.ok,
        "num_errors": len(result.errors),
        "num_warnings": len(result.warnings),
        "errors": describe(result.first_errors()),
        **result.summary.to_dict(),
    }
    write_json(path, data, sort_keys=False)
