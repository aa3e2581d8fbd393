"""Stage 12: merge the per-job decode dirs ``LOGDIR/output.{1..nj}/<task>/`` into ``<task>/``.

Only the jobs of this run are read (1..nj, never an ``output.*`` glob): a rerun with fewer jobs
must not merge the outputs an earlier run left in ``output.<nj+1>`` and above (issue #15 item 7),
and an id that two jobs both decoded is an error, not a duplicate line for stage 13 to trip on.
``text`` is written sorted (as ``LC_ALL=C sort`` would), ``prompts.jsonl`` and ``skipped`` are
joined in job order.
"""

from __future__ import annotations

import logging
import os
from typing import Dict, List, Sequence

from espnet_spire.common.fileio import PathLike, atomic_write_bytes
from espnet_spire.common.jobs import JobError, merge_pieces
from espnet_spire.common.kaldi_dir import read_kaldi_dict, write_kaldi_file

logger = logging.getLogger(__name__)

JOINED = ("prompts.jsonl", "skipped")


def job_dirs(logdir: PathLike, nj: int) -> List[str]:
    """``LOGDIR/output.1`` .. ``LOGDIR/output.<nj>``."""
    return [os.path.join(logdir, f"output.{j}") for j in range(1, nj + 1)]


def merge_task(jobs: Sequence[str], task: str, out_dir: PathLike) -> int:
    """Merge one task of ``jobs`` into ``out_dir``; returns the number of hypotheses."""
    missing = [d for d in jobs if not os.path.isfile(os.path.join(d, task, "text"))]
    if missing:
        raise JobError(f"{task}: no {task}/text in {', '.join(missing)} (the job failed or did not "
                       f"run: see its decode.<job>.log)")
    hyps: Dict[str, str] = merge_pieces(jobs, os.path.join(task, "text"), read_kaldi_dict)
    os.makedirs(out_dir, exist_ok=True)
    write_kaldi_file(os.path.join(out_dir, "text"), hyps)
    for name in JOINED:
        parts = [os.path.join(d, task, name) for d in jobs]
        data = b"".join(open(p, "rb").read() for p in parts if os.path.isfile(p))
        atomic_write_bytes(os.path.join(out_dir, name), data)
    return len(hyps)


def merge_decode_jobs(logdir: PathLike, nj: int, tasks: Sequence[str], out_dir: PathLike) -> Dict[str, int]:
    """Merge every task of jobs 1..nj into ``out_dir/<task>/``; returns ``{task: hypotheses}``."""
    if nj < 1:
        raise JobError(f"{logdir}: no decoding job to merge (nj={nj})")
    jobs = job_dirs(logdir, nj)
    counts = {task: merge_task(jobs, task, os.path.join(out_dir, task)) for task in tasks}
    for task, n in counts.items():
        logger.info("%s: %d hypotheses from %d job(s) -> %s", task, n, nj, os.path.join(out_dir, task, "text"))
    return counts
