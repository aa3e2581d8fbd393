"""Stage 5, merge: join the job pieces of one set into ``dump/units/<set>/``.

Writes ``units``, ``utt2num_units``, ``utt2num_frames`` and ``failed`` sorted by utterance id (C
locale byte order, as Kaldi tools expect) plus ``units_info.json``. It refuses to merge when a job
is unfinished, when jobs were made with different settings (e.g. two k-means models, pain point
2) or when an utterance appears twice.

**Failure budget.** Some recordings of large corpora are always broken; losing a few is fine,
losing many means something is wrong (a bad stage-2 run, a codec problem). The merge therefore
fails (after writing the files, so ``failed`` can be inspected) only when
``failed / (labelled + failed)`` exceeds ``max_failed_ratio`` (default 0.05 = 5 %).
"""

from __future__ import annotations

import logging
import os
from typing import Dict, List, Sequence, Tuple

from espnet_spire.units import jobs
from espnet_spire.units.jobs import UnitsError
from espnet_spire.units.provenance import read_json, write_json

logger = logging.getLogger(__name__)

DEFAULT_MAX_FAILED_RATIO = 0.05
PIECES = ("units", "utt2num_units", "utt2num_frames", "failed")


class TooManyFailedError(UnitsError):
    """More utterances failed than the failure budget allows."""


def job_dirs(logdir: str, nj: int) -> List[str]:
    return [os.path.join(logdir, f"output.{i}") for i in range(1, nj + 1)]


def _read_piece(path: str) -> List[Tuple[str, str]]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            uttid, _, rest = line.partition(" ")
            rows.append((uttid, rest))
    return rows


def merge_units(
    input_dirs: Sequence[str], output_dir: str, max_failed_ratio: float = DEFAULT_MAX_FAILED_RATIO
) -> Dict[str, object]:
    """Merge finished job dirs into ``output_dir``; raises :class:`TooManyFailedError` last."""
    missing = [d for d in input_dirs if jobs.read_done(d) is None]
    if missing:
        raise UnitsError(f"cannot merge: unfinished labelling jobs (no 'done' marker): {', '.join(missing)}")
    sigs = {d: jobs.read_done(d).get("summary", {}).get("settings_signature") for d in input_dirs}
    if len(set(sigs.values())) != 1:
        detail = ", ".join(f"{d}: {str(s)[:12]}" for d, s in sigs.items())
        raise UnitsError(f"cannot merge: jobs were made with different settings ({detail})")
    merged: Dict[str, Dict[str, str]] = {name: {} for name in PIECES}
    origin: Dict[str, str] = {}
    for d in input_dirs:
        for name in PIECES:
            for uttid, rest in _read_piece(os.path.join(d, name)):
                if name in ("units", "failed"):
                    if uttid in origin:
                        raise UnitsError(f"utterance {uttid!r} appears in both {origin[uttid]} and {d}")
                    origin[uttid] = d
                merged[name][uttid] = rest
    os.makedirs(output_dir, exist_ok=True)
    for name in PIECES:
        rows = merged[name]
        jobs.write_lines(os.path.join(output_dir, name), (f"{u} {rows[u]}" for u in sorted(rows)))
    n_ok, n_failed = len(merged["units"]), len(merged["failed"])
    total = n_ok + n_failed
    frames = sum(int(v) for v in merged["utt2num_frames"].values())
    n_units = sum(int(v) for v in merged["utt2num_units"].values())
    ratio = n_failed / total if total else 0.0
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
    if ratio > max_failed_ratio:
        raise TooManyFailedError(
            f"{n_failed} of {total} utterances failed ({100 * ratio:.2f}% > {100 * max_failed_ratio:.2f}%); "
            f"see {os.path.join(output_dir, 'failed')} and the job logs, or raise --max_failed_ratio"
        )
    return info["merged"]
