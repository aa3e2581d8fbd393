"""Stage 5, merge: join the job pieces of one set into ``dump/units/<set>/``.

Writes ``units``, ``utt2num_units``, ``utt2num_frames`` and ``failed`` sorted by utterance id (C
locale byte order, as Kaldi tools expect) plus ``units_info.json``. It refuses to merge when a job
is unfinished, when jobs were made with different settings (e.g. two k-means models, pain point
2) or when an utterance appears twice. The failure budget is the one of
:mod:`espnet_spire.common.jobs`; the merge checks it after writing the files, so ``failed`` can
be inspected.
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

__all__ = ["DEFAULT_MAX_FAILED_RATIO", "TooManyFailedError", "job_dirs", "merge_units"]


def job_dirs(logdir: str, nj: int) -> List[str]:
    """The ``output.<JOB>`` dirs of ``nj`` labelling jobs."""
    return [os.path.join(logdir, f"output.{i}") for i in range(1, nj + 1)]


def merge_units(
    input_dirs: Sequence[str], output_dir: str, max_failed_ratio: float = DEFAULT_MAX_FAILED_RATIO
) -> Dict[str, object]:
    """Merge finished job dirs into ``output_dir``; raises :class:`TooManyFailedError` last."""
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
    for name in PIECES:
        rows = merged[name]
        write_lines(os.path.join(output_dir, name), (f"{u} {rows[u]}" for u in sorted(rows, key=sort_key)))
    n_ok, n_failed = len(merged["units"]), len(merged["failed"])
    total = n_ok + n_failed
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
    jobs.check_failure_budget(n_failed, total, max_failed_ratio, os.path.join(output_dir, "failed"))
    return info["merged"]
