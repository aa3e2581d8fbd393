"""TowerBlocks (v0.2) as the JSONL that stage 10 reads with ``--towerblocks``.

Layout read (``--corpus_dir`` is a snapshot of the Hub dataset ``Unbabel/TowerBlocks-v0.2``):
``data/train-0000N-of-0000M.parquet`` (columns ``conversations`` = list of ``{from, value}``,
``lang``, ``split``, ``dataset``, ``task``), read with pyarrow in batches; or, where the parquet
files were exported, ``*.jsonl`` files with the same fields (one record a line), in
``data/`` or at the root. Parquet is read when present.

Output: ``data/towerblocks/towerblocks.jsonl``, one record a line in the release's order
(files sorted by name), ``{"id", "conversations", "lang", "split", "dataset", "task"}``; ``id`` is
``towerblocks-NNNNNNN``, the row's position in the release (malformed rows keep their number).
A row stage 10 could not train on (not JSON, no conversation list, a turn without
``from``/``value`` or with an unknown speaker, an empty turn, no final assistant turn) is listed in
``skipped`` with its reason.
"""

from __future__ import annotations

import argparse
import glob
import os
from typing import Dict, Iterator, List, Tuple

from espnet_spire.common.fileio import iter_json_lines
from espnet_spire.corpora.datadir import not_json_reason, write_jsonl_dir
from espnet_spire.corpora.registry import CORPORA, Corpus, Prepared
from espnet_spire.lm.prompts import conversation_problem, from_sharegpt

OUTPUT_NAME = "towerblocks.jsonl"
KEPT_FIELDS = ("lang", "split", "dataset", "task")


def find_files(corpus_dir: str) -> Tuple[str, List[str]]:
    """``("parquet" | "jsonl", files)`` of the release under ``corpus_dir``."""
    for fmt in ("parquet", "jsonl"):
        for pattern in (f"data/*.{fmt}", f"*.{fmt}"):
            files = sorted(glob.glob(os.path.join(corpus_dir, pattern)))
            if files:
                return fmt, files
    raise FileNotFoundError(f"no TowerBlocks files under {corpus_dir}: expected data/train-*.parquet "
                            f"(the Hub release) or *.jsonl")


def iter_parquet(path: str, batch_size: int = 1024) -> Iterator[Dict]:
    """Rows of a parquet file as dicts, one batch in memory at a time."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError(f"reading {path} needs pyarrow (pip install pyarrow), or export the dataset to "
                          f"JSONL first (datasets: load_dataset('parquet', ...).to_json(...))") from None
    for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size):
        yield from batch.to_pylist()


def iter_rows(fmt: str, files: List[str]) -> Iterator[Tuple[object, bool]]:
    """``(row, True)`` or ``(reason, False)`` per row, over all files in order."""
    for path in files:
        if fmt == "parquet":
            for row in iter_parquet(path):
                yield row, True
        else:
            for _, row, error in iter_json_lines(path):
                yield (row, True) if error is None else (not_json_reason(error), False)


def row_problem(row: object) -> str:
    """Why a row is malformed ("" when it is usable)."""
    if not isinstance(row, dict) or not isinstance(row.get("conversations"), list):
        return "no_conversations"
    turns = row["conversations"]
    if any(not isinstance(t, dict) or not isinstance(t.get("from"), str) or not isinstance(t.get("value"), str)
           for t in turns):
        return "bad_turn"
    try:
        messages = from_sharegpt(row)
    except ValueError:
        return "unknown_speaker"
    return "bad_turns" if conversation_problem(messages) else ""


def records(fmt: str, files: List[str], skipped: List[Tuple[str, str]]) -> Iterator[Dict]:
    """Usable records in release order; fills ``skipped`` with ``(id, reason)`` as it goes."""
    for n, (row, ok) in enumerate(iter_rows(fmt, files), start=1):
        key = f"towerblocks-{n:07d}"
        problem = row if not ok else row_problem(row)
        if problem:
            skipped.append((key, str(problem)))
            continue
        out = {"id": key, "conversations": [{"from": t["from"], "value": t["value"]} for t in row["conversations"]]}
        out.update({f: row.get(f) for f in KEPT_FIELDS})
        yield out


def prepare(args: argparse.Namespace) -> Prepared:
    fmt, files = find_files(args.corpus_dir)
    path = os.path.join(args.data_root, "towerblocks")
    skipped: List[Tuple[str, str]] = []
    facts = {"corpus": "towerblocks", "role": "it_text", "format": fmt,
             "files": [os.path.relpath(f, args.corpus_dir) for f in files],
             "source_dir": os.path.basename(os.path.normpath(args.corpus_dir))}
    return {path: write_jsonl_dir(path, OUTPUT_NAME, records(fmt, files, skipped), facts, skipped)}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """TowerBlocks has no options of its own."""


CORPORA.register("towerblocks")(Corpus(
    name="towerblocks",
    layout=("TowerBlocks IT text for stage 10 (--towerblocks). TowerBlocks-v0.2 as on the Hugging Face Hub: "
            "data/train-*-of-*.parquet (needs pyarrow) with columns "
            "conversations [{from, value}], lang, split, dataset, task; or *.jsonl with the same fields. Writes "
            "data/towerblocks/towerblocks.jsonl for stage 10 (--towerblocks), malformed rows listed in skipped."),
    add_arguments=add_arguments,
    prepare=prepare,
))
