"""Stage 5, merge: join the job pieces of one set into ``dump/units/<set>/``.

Writes ``units``, ``utt2num_units``, ``utt2num_frames`` and ``failed`` sorted by utterance id (C
locale byte order, as Kaldi tools expect) plus ``units_info.json``. It refuses to merge when a job
is unfinished, when jobs were made with different settings (e.g. two k-means models, pain point
2) or when an utterance appears twice. The failure budget is the one of
:mod:`espnet_spire.common.jobs`. Over the budget only ``failed`` is written (so the reasons can be
inspected) and the error names each job's failures; ``units`` and the other set files exist only
after a merge that succeeded: every merge first removes those of an earlier run, so a failed
stage 5 never leaves a complete-looking ``units`` file for stage 7 to read (issue #15).
"""

from __future__ import annotations

import logging
import os
from typing import Dict, List, Sequence

from espnet_spire.common import jobs
from espnet_spire.common.fileio import read_json, write_json, write_lines
from espnet_spire.common.jobs import DEFAULT_MAX_FAILED_RATIO, JobError, TooManyFailedError
from espnet_spire.common.kaldi_dir import read_kaldi_dict, sort_key

logger = logging.getLogger(__name__)

PIECES = ("units", "utt2num_units", "utt2num_frames", "failed")
# Written only by a successful merge (``failed`` is written in any case).
ON_SUCCESS = ("units", "utt2num_units", "utt2num_frames", "units_info.json")

__all__ = ["DEFAULT_MAX_FAILED_RATIO", "TooManyFailedError", "job_dirs", "merge_units"]


def job_dirs(logdir: str, nj: int) -> List[str]:
    """The ``output.<JOB>`` dirs of ``nj`` labelling jobs."""
    return [os.path.join(logdir, f"output.{i}") for i in range(1, nj + 1)]


def merge_units(
    input_dirs: Sequence[str], output_dir: str, max_failed_ratio: float = DEFAULT_MAX_FAILED_RATIO
) -> Dict[str, object]:
    """Merge finished job dirs into ``output_dir``; raises :class:`TooManyFailedError` last."""
    for name in ON_SUCCESS:
        stale = os.path.join(output_dir, name)
        if os.path.exists(stale):
            os.remove(stale)
    missing = jobs.unfinished(input_dirs)
    if missing:
        raise JobError(f"cannot merge: unfinished labelling jobs (no 'done' marker): {', '.join(missing)}")
    sigs = {d: jobs.read_done(d).get("summary", {}).get("settings_signature") for d in input_dirs}
    if len(set(sigs.values())) != 1:
        detail = ", ".join(f"{d}: {str(s)[:12]}" for d, s in sigs.items())
        raise JobError(f"cannot merge: jobs were made with different settings ({detail})")
    merged = {name: jobs.merge_pieces(input_dirs, name, read_kaldi_dict) for name in PIECES}
    both = set(merged["units"]) & set(merged["failed"])
    if both:
        raise JobError(f"utterance {min(both, key=sort_key)!r} is both labelled and failed")
    os.makedirs(output_dir, exist_ok=True)
    n_ok, n_failed = len(merged["units"]), len(merged["failed"])
    total = n_ok + n_failed
    failed_file = os.path.join(output_dir, "failed")
    write_lines(failed_file, (f"{u} {merged['failed'][u]}" for u in sorted(merged["failed"], key=sort_key)))
    try:
        jobs.check_failure_budget(n_failed, total, max_failed_ratio, failed_file)
    except TooManyFailedError as e:
        per_job = [(d, jobs.read_done(d).get("summary", {})) for d in input_dirs]
        detail = ", ".join(f"{d}: {s.get('failed')} of {s.get('utterances')}" for d, s in per_job if s.get("failed"))
        raise TooManyFailedError(f"{e}; failed per job: {detail}; {os.path.join(output_dir, 'units')} "
                                 "not written") from None
    for name in PIECES[:-1]:
        rows = merged[name]
        write_lines(os.path.join(output_dir, name), (f"{u} {rows[u]}" for u in sorted(rows, key=sort_key)))
    frames = sum(int(v) for v in merged["utt2num_frames"].values())
    n_units = sum(int(v) for v in merged["utt2num_units"].values())
    ratio = jobs.failed_ratio(n_failed, total)
    info = read_json(os.path.join(input_dirs[0], "job_info.json"))
    info.pop("summary", None)
    info["merged"] = {
        "jobs": len(input_dirs),
        "utterances": total,
        "labelled": n_ok,
        "failed": n_failed,
        "failed_ratio": ratio,
        "max_failed_ratio": max_failed_ratio,
        "frames": frames,
        "units": n_units,
        "units_per_frame": (n_units / frames) if frames else None,
    }
    write_json(os.path.join(output_dir, "units_info.json"), info)
    logger.info(
        "%s: %d utterances labelled, %d failed (%.2f%%); %d units from %d frames",
        output_dir, n_ok, n_failed, 100 * ratio, n_units, frames,
    )
    return info["merged"]
