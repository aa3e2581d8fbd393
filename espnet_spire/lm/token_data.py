"""The training data contract between the data stages (7, 10) and the trainer (8, 11).

A split dir (e.g. ``dump/lm/cpt/train/``) holds::

    input_ids      key id id id ...        (Kaldi style, keys sorted in C byte order)
    loss_mask      key 0 0 1 1 ...         (same keys, same lengths; 1 = predict this token)
    stats.json     sequences, tokens, padding share, sources, settings
    tokenizer_dir  one line: the tokenizer dir the ids belong to
    tokenizer/     a copy of that tokenizer's files (the model trained on the split exports it)
    spire.json     facts of the split: builder stage, prompt style, K (see espnet_spire.lm.facts)
    skipped        key reason detail        (examples left out, with why)

``loss_mask[t] = 1`` means the loss includes predicting ``input_ids[t]`` from the tokens before
it (the trainer shifts). Padding always has mask 0.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from espnet_spire.common.fileio import atomic_open, write_json
from espnet_spire.common.kaldi_dir import sort_key

INPUT_IDS = "input_ids"
LOSS_MASK = "loss_mask"
STATS = "stats.json"
TOKENIZER_DIR = "tokenizer_dir"
SKIPPED = "skipped"
TOKENIZER_COPY = "tokenizer"


class SplitWriter:
    """Streams sequences into a split dir; keys must arrive in sorted order (checked)."""

    def __init__(self, output_dir: str) -> None:
        os.makedirs(output_dir, exist_ok=True)
        self.output_dir = output_dir
        # both files appear under their names only when close() succeeds
        self._files = contextlib.ExitStack()
        self._ids = self._files.enter_context(atomic_open(os.path.join(output_dir, INPUT_IDS)))
        self._mask = self._files.enter_context(atomic_open(os.path.join(output_dir, LOSS_MASK)))
        self._last = None
        self.sequences = 0
        self.tokens = 0
        self.loss_tokens = 0

    def add(self, key: str, ids: Sequence[int], mask: Sequence[int]) -> None:
        """Append one sequence (``len(ids) == len(mask)``)."""
        if len(ids) != len(mask):
            raise ValueError(f"{key}: {len(ids)} ids but {len(mask)} mask values")
        if not ids:
            raise ValueError(f"{key}: empty sequence")
        if self._last is not None and sort_key(key) <= sort_key(self._last):
            raise ValueError(f"keys out of order: {self._last!r} then {key!r}")
        self._last = key
        self._ids.write(key + " " + " ".join(map(str, ids)) + "\n")
        self._mask.write(key + " " + " ".join("1" if m else "0" for m in mask) + "\n")
        self.sequences += 1
        self.tokens += len(ids)
        self.loss_tokens += int(sum(1 for m in mask if m))

    def close(self, stats: Dict, tokenizer_dir: str, skipped: Iterable[Tuple[str, str, str]] = (),
              facts: Optional[Dict] = None) -> None:
        """Finish the files (renames make a crashed run visible as missing files) and write stats.

        The tokenizer's files are copied beside the data and ``facts`` (prompt style, ...) go to
        ``spire.json``: the trainer's export reads them, so a trained model dir carries the tokenizer
        and prompt format its data was built with, without options on the training command.
        """
        self._files.close()
        with open(os.path.join(self.output_dir, TOKENIZER_DIR), "w", encoding="utf-8") as f:
            f.write(os.path.abspath(tokenizer_dir) + "\n")
        write_skipped(os.path.join(self.output_dir, SKIPPED), skipped)
        write_json(os.path.join(self.output_dir, STATS), stats, sort_keys=False)
        record_tokenizer(self.output_dir, tokenizer_dir, facts or {})


def record_tokenizer(split_dir: str, tokenizer_dir: str, facts: Dict) -> None:
    """Copy the tokenizer into ``split_dir/tokenizer`` and write the split's ``spire.json``."""
    from espnet_spire.lm.facts import FACTS_VERSION, copy_tokenizer_files, read_facts, write_facts

    copy_tokenizer_files(tokenizer_dir, os.path.join(split_dir, TOKENIZER_COPY))
    tok_facts = read_facts(tokenizer_dir) or {}
    write_facts(split_dir, {"version": FACTS_VERSION, "kind": "data", "tokenizer": TOKENIZER_COPY,
                            "tokenizer_variant": tok_facts.get("variant"), **facts})


def read_split_facts(split_dir: str) -> Optional[Dict]:
    """The split's ``spire.json`` with ``tokenizer`` made a path, or None for splits made without it."""
    from espnet_spire.lm.facts import read_facts

    facts = read_facts(split_dir)
    if facts is None or facts.get("kind") != "data":
        return None
    facts = dict(facts)
    facts["tokenizer"] = os.path.join(split_dir, facts["tokenizer"])
    return facts


def write_skipped(path: str, skipped: Iterable[Tuple[str, str, str]]) -> int:
    """``id reason detail`` lines; returns the count."""
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for key, reason, detail in skipped:
            detail = " ".join(str(detail).split())
            f.write(f"{key} {reason} {detail}".rstrip() + "\n")
            n += 1
    return n


def read_split(split_dir: str) -> Iterator[Tuple[str, List[int], List[int]]]:
    """Yield ``(key, ids, mask)``; checks that both files agree line by line."""
    with open(os.path.join(split_dir, INPUT_IDS), encoding="utf-8") as fi, \
            open(os.path.join(split_dir, LOSS_MASK), encoding="utf-8") as fm:
        for lineno, (li, lm) in enumerate(zip(fi, fm), start=1):
            ki, *ids = li.split()
            km, *mask = lm.split()
            if ki != km or len(ids) != len(mask):
                raise ValueError(f"{split_dir}: line {lineno}: input_ids and loss_mask disagree ({ki} vs {km})")
            yield ki, [int(x) for x in ids], [int(x) for x in mask]


def read_stats(split_dir: str) -> Dict:
    """The split's ``stats.json``."""
    with open(os.path.join(split_dir, STATS), encoding="utf-8") as f:
        return json.load(f)
