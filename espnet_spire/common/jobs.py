"""Job bookkeeping shared by the parallel stages (2: audio formatting, 3: feature dumps,
5: unit labelling): done markers, merging job pieces, the failure budget and progress bars.

A job writes its pieces atomically and its done marker last. The marker stores a *signature*
(hash of everything that determines the output: key list, inputs, options), so a rerun skips a
finished job only when it would produce the same bytes, and redoes it when anything changed.
Markers hold no time stamp, so a restarted run leaves the same bytes as an uninterrupted one.

**Failure budget.** Some recordings of large corpora are always broken; losing a few is fine,
losing many means something systematic (wrong paths, a missing codec, a bad stage-2 run). A
merge fails when ``failed / (kept + failed)`` exceeds ``max_failed_ratio`` (default 5 %).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Type, TypeVar

from espnet_spire.common.fileio import PathLike, read_json, write_json
from espnet_spire.common.hashing import sha256_json

logger = logging.getLogger(__name__)

DONE_NAME = "done"
DEFAULT_MAX_FAILED_RATIO = 0.05
# One 25 ms analysis window at 16 kHz (the HuBERT receptive field): shorter audio gives no frame.
MIN_SAMPLES = 400

V = TypeVar("V")


class JobError(RuntimeError):
    """An expected pipeline error (bad set-up, unfinished jobs): the CLIs print it without a traceback."""


class TooManyFailedError(JobError):
    """More utterances failed than the failure budget allows."""


def signature(settings: Dict[str, object]) -> str:
    """Content hash of a settings dict (canonical JSON)."""
    return sha256_json(settings)


def _marker(job_dir: PathLike, name: str) -> str:
    return os.path.join(job_dir, name)


def read_done(job_dir: PathLike, name: str = DONE_NAME) -> Optional[Dict[str, object]]:
    """The done marker of ``job_dir`` (None when the job has not finished or it is unreadable)."""
    path = _marker(job_dir, name)
    if not os.path.isfile(path):
        return None
    try:
        marker = read_json(path)
    except ValueError:
        logger.warning("%s is corrupt; the job counts as unfinished", path)
        return None
    return marker if isinstance(marker, dict) else None


def is_done(job_dir: PathLike, sig: str, name: str = DONE_NAME) -> bool:
    """True when ``job_dir`` holds a finished job with the same signature."""
    marker = read_done(job_dir, name)
    if marker is None:
        return False
    if marker.get("signature") != sig:
        logger.warning(
            "%s was made with different inputs or settings (signature %s, now %s); redoing the job",
            job_dir,
            str(marker.get("signature"))[:12],
            sig[:12],
        )
        return False
    return True


def clear_done(job_dir: PathLike, name: str = DONE_NAME) -> None:
    """Remove the marker before (re)writing a job's outputs, so a crash never looks finished."""
    path = _marker(job_dir, name)
    if os.path.exists(path):
        os.remove(path)


def finished_summary(job_dir: PathLike, sig: str, name: str = DONE_NAME) -> Optional[Dict[str, object]]:
    """The summary of an earlier run with signature ``sig`` (the caller skips the job), or None
    once ``job_dir`` exists without a stale marker (the caller runs the job)."""
    os.makedirs(job_dir, exist_ok=True)
    if is_done(job_dir, sig, name):
        logger.info("%s: already done, skipping", job_dir)
        return (read_done(job_dir, name) or {}).get("summary", {})
    clear_done(job_dir, name)
    return None


def mark_done(
    job_dir: PathLike, sig: str, summary: Optional[Dict[str, object]] = None, name: str = DONE_NAME
) -> None:
    """Write the done marker (the last thing a job does)."""
    marker: Dict[str, object] = {"signature": sig}
    if summary:
        marker["summary"] = summary
    write_json(_marker(job_dir, name), marker)


def unfinished(job_dirs: Iterable[PathLike], name: str = DONE_NAME) -> List[str]:
    """The job dirs without a readable done marker."""
    return [str(d) for d in job_dirs if read_done(d, name) is None]


def merge_pieces(
    job_dirs: Sequence[PathLike],
    piece: str,
    read: Callable[[str], Dict[str, V]],
    error: Type[JobError] = JobError,
) -> Dict[str, V]:
    """Join piece ``piece`` of every job (read with ``read``); an id in two jobs raises ``error``."""
    out: Dict[str, V] = {}
    origin: Dict[str, str] = {}
    for d in job_dirs:
        path = os.path.join(d, piece)
        for key, value in read(path).items():
            if key in out:
                raise error(f"'{key}' appears in two jobs ({origin[key]} and {path})")
            out[key] = value
            origin[key] = path
    return out


def failed_ratio(num_failed: int, total: int) -> float:
    """Share of failed utterances (0 for an empty set)."""
    return num_failed / total if total else 0.0


def check_failure_budget(
    num_failed: int,
    total: int,
    max_failed_ratio: float,
    failed_file: PathLike,
    error: Type[JobError] = TooManyFailedError,
) -> float:
    """Return the failed ratio; raise ``error`` when it exceeds ``max_failed_ratio``."""
    ratio = failed_ratio(num_failed, total)
    if ratio > max_failed_ratio:
        raise error(
            f"{num_failed} of {total} utterances failed ({ratio:.1%} > --max_failed_ratio "
            f"{max_failed_ratio:.1%}); reasons in {failed_file} (see also the job logs)"
        )
    return ratio


def progress(iterable=None, **kwargs):
    """tqdm bar on stderr; refreshes rarely when stderr is a log file (run.pl jobs)."""
    from tqdm import tqdm

    interactive = sys.stderr.isatty()
    kwargs.setdefault("mininterval", 1.0 if interactive else 60.0)
    kwargs.setdefault("dynamic_ncols", interactive)
    kwargs.setdefault("file", sys.stderr)
    return tqdm(iterable, **kwargs)


def read_job_list(
    path: PathLike, fields: Sequence[str], optional: Sequence[str] = ()
) -> List[Dict[str, Optional[str]]]:
    """The lines of a job list: one data set per line, ``fields`` separated by tabs, ``-`` for an
    absent optional field, blank lines ignored.

    Stages 2, 5, 12 and 13 give one process many data sets this way (``--job_list``), so that
    the interpreter start-up and the model load (seconds each) are paid once per job, not once
    per set: the paper's recipe has two dozen speech dirs and a dozen test sets.
    """
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            values = line.rstrip("\n").split("\t")
            if len(values) != len(fields):
                raise JobError(f"{path}:{n}: expected {len(fields)} tab-separated fields "
                               f"({', '.join(fields)}), got {line.rstrip()!r}")
            row = {k: (None if v == "-" and k in optional else v) for k, v in zip(fields, values)}
            empty = [k for k, v in row.items() if k not in optional and not v]
            if empty:
                raise JobError(f"{path}:{n}: empty field {empty[0]}")
            out.append(row)
    return out


def job_count(value: str, source: str) -> int:
    """The ``nj`` field of a merge list: a positive integer, else a :class:`JobError` naming ``source``."""
    if not value.isdigit() or int(value) < 1:
        raise JobError(f"{source}: nj must be a positive integer, got {value!r}")
    return int(value)


def each_set(sets: Sequence[Tuple], fn: Callable[..., object]) -> None:
    """``fn(*item)`` for every set of a job list. The :class:`JobError` of one set (failure
    budget, unfinished jobs) is logged and the others go on; the failures are raised together at
    the end, so one broken corpus does not hide the state of the others."""
    failed = []
    for item in sets:
        try:
            fn(*item)
        except JobError as e:
            logger.error("%s", e)
            failed.append(f"{item[0]}: {e}")
    if failed:
        raise JobError(f"{len(failed)} of {len(sets)} sets failed:\n  " + "\n  ".join(failed))
