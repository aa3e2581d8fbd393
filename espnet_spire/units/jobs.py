"""Job bookkeeping shared by the unit stages: done markers, atomic writes, progress bars.

A job writes its pieces under temporary names, renames them into place and writes the ``done``
marker last. The marker stores a *signature* (hash of everything that determines the output: key
list, feature identity, k-means centroids, format options), so a rerun skips a finished job only
when it would produce the same bytes, and redoes it when a setting changed (pain points 2, 13).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Dict, Iterable, Optional

from espnet_spire.units.provenance import read_json, sha256_json, write_json

logger = logging.getLogger(__name__)

DONE_NAME = "done"


class UnitsError(RuntimeError):
    """An expected pipeline error (bad set-up, unfinished jobs): the CLIs print it without a traceback."""


def signature(settings: Dict[str, object]) -> str:
    """Content hash of a settings dict (canonical JSON)."""
    return sha256_json(settings)


def is_done(output_dir: str, sig: str) -> bool:
    """True when ``output_dir`` holds a finished job with the same signature."""
    path = os.path.join(output_dir, DONE_NAME)
    if not os.path.isfile(path):
        return False
    try:
        marker = read_json(path)
    except ValueError:
        logger.warning("%s is corrupt; the job will be redone", path)
        return False
    if marker.get("signature") != sig:
        logger.warning(
            "%s was made with different settings (signature %s, now %s); redoing the job",
            output_dir,
            str(marker.get("signature"))[:12],
            sig[:12],
        )
        return False
    return True


def clear_done(output_dir: str) -> None:
    """Remove the marker before (re)writing a job's outputs, so a crash never looks finished."""
    path = os.path.join(output_dir, DONE_NAME)
    if os.path.exists(path):
        os.remove(path)


def mark_done(output_dir: str, sig: str, summary: Optional[Dict[str, object]] = None) -> None:
    """Write the ``done`` marker (the last thing a job does)."""
    marker = {"signature": sig, "finished": time.strftime("%Y-%m-%dT%H:%M:%S")}
    if summary:
        marker["summary"] = summary
    write_json(os.path.join(output_dir, DONE_NAME), marker)


def read_done(output_dir: str) -> Optional[Dict[str, object]]:
    path = os.path.join(output_dir, DONE_NAME)
    return read_json(path) if os.path.isfile(path) else None


def write_lines(path: str, lines: Iterable[str]) -> None:
    """Write ``line\\n`` for each line, atomically (temp file + rename), UTF-8."""
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(line)
            f.write("\n")
    os.replace(tmp, path)


def progress(iterable=None, **kwargs):
    """tqdm bar on stderr; refreshes rarely when stderr is a log file (run.pl jobs)."""
    from tqdm import tqdm

    interactive = sys.stderr.isatty()
    kwargs.setdefault("mininterval", 1.0 if interactive else 60.0)
    kwargs.setdefault("dynamic_ncols", interactive)
    kwargs.setdefault("file", sys.stderr)
    return tqdm(iterable, **kwargs)
