"""Combine several data dirs into one, for a recipe role fed by more than one corpus.

The recipe names each data role (k-means set, IT ASR set, gold ST sets, ...) by a list of data
dirs; a stage whose builder reads one dir gets a combined dir under ``dump/roles/<role>/``. The
per-utterance files are merged by id in ``LC_ALL=C`` order as a stream (each source is already
sorted), so memory stays flat however large the corpora are; an id found in two sources stops
the merge, naming both, because two corpora must never claim the same utterance. A
``text.tc.<lang>`` exists in the sources that carry that language only (the pairs a gold ST dir
has), so the combined file holds exactly those utterances. ``combined_from.json`` records what
went in, so a reader of the dir can tell where each part came from.
"""

from __future__ import annotations

import glob
import heapq
import os
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from espnet_spire.common.fileio import PathLike, atomic_open, write_json
from espnet_spire.common.kaldi_dir import KaldiFormatError, parse_line, sort_key

# Per-utterance two-column files a combined dir carries when any source has them.
PER_UTT_FILES = ("text", "utt2spk", "utt2dur", "utt2num_samples", "wav.scp", "segments")
FACTS_FILE = "combined_from.json"


def _keyed_lines(path: str) -> Iterator[Tuple[bytes, bytes, str]]:
    """(id bytes, raw line, path) of each non-empty line; fails when the file is not sorted."""
    prev: Optional[bytes] = None
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            line = raw.rstrip(b"\r\n")
            if not line.strip():
                continue
            key = sort_key(parse_line(line.decode("utf-8", "surrogateescape"), lineno).key)
            if prev is not None and key < prev:
                raise KaldiFormatError(path, lineno, "not sorted by id (LC_ALL=C sort)")
            prev = key
            yield key, line, path


def merge_sorted_files(out_path: PathLike, paths: Sequence[str]) -> int:
    """Merge sorted Kaldi files into ``out_path`` (atomic); returns the line count.

    An id in two inputs raises ``ValueError`` naming both files.
    """
    n = 0
    last: Optional[Tuple[bytes, str]] = None
    streams = [_keyed_lines(p) for p in paths]
    with atomic_open(out_path, "wb") as out:
        for key, line, path in heapq.merge(*streams, key=lambda item: item[0]):
            if last is not None and key == last[0]:
                raise ValueError(f"id '{key.decode('utf-8', 'surrogateescape')}' is in both "
                                 f"{last[1]} and {path}: the combined sets must not share utterances")
            last = (key, path)
            out.write(line + b"\n")
            n += 1
    return n


def _file_names(src_dirs: Sequence[str]) -> List[str]:
    """The per-utterance files of any source: PER_UTT_FILES, then every text.tc.<lang>."""
    names = [n for n in PER_UTT_FILES if any(os.path.isfile(os.path.join(d, n)) for d in src_dirs)]
    langs = sorted({os.path.basename(p) for d in src_dirs for p in glob.glob(os.path.join(d, "text.tc.*"))})
    return names + langs


def _remove_stale(out_dir: PathLike) -> None:
    """Drop the files of an earlier combination (a rerun may combine other sets)."""
    names = list(PER_UTT_FILES) + ["units", FACTS_FILE]
    for path in [os.path.join(out_dir, n) for n in names] + glob.glob(os.path.join(out_dir, "text.tc.*")):
        if os.path.isfile(path):
            os.remove(path)


def combine_data_dirs(out_dir: PathLike, src_dirs: Sequence[str],
                      units_files: Optional[Sequence[str]] = None) -> Dict[str, object]:
    """Write the combination of ``src_dirs`` into ``out_dir``; returns the facts it records.

    ``units_files`` (one per source, same order) are merged into ``out_dir/units`` (stage-5
    units live under dump/, not in the data dir).
    """
    missing = [d for d in src_dirs if not os.path.isdir(d)]
    if missing:
        raise FileNotFoundError(f"cannot combine: missing data dir(s): {' '.join(missing)}")
    if units_files is not None:
        if len(units_files) != len(src_dirs):
            raise ValueError(f"{len(units_files)} units files for {len(src_dirs)} data dirs")
        absent = [u for u in units_files if not os.path.isfile(u)]
        if absent:
            raise FileNotFoundError(f"cannot combine: missing units file(s) (run stage 5): {' '.join(absent)}")
    os.makedirs(out_dir, exist_ok=True)
    _remove_stale(out_dir)
    sources: List[Dict[str, object]] = [{"dir": d, "files": {}} for d in src_dirs]
    counts: Dict[str, int] = {}
    names = _file_names(src_dirs)
    inputs = {n: [os.path.join(d, n) for d in src_dirs] for n in names}
    if units_files is not None:
        names.append("units")
        inputs["units"] = list(units_files)
    for name in names:
        present = [(i, p) for i, p in enumerate(inputs[name]) if os.path.isfile(p)]
        counts[name] = merge_sorted_files(os.path.join(out_dir, name), [p for _, p in present])
        for i, p in present:
            sources[i]["files"][name] = p
    facts = {"sources": sources, "lines": counts}
    write_json(os.path.join(out_dir, FACTS_FILE), facts)
    return facts
