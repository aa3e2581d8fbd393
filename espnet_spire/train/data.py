"""Reading the LM training data: a lazy ``text_int`` reader, shape files, the collate function.

Data contract (written by the CPT/IT data builders): a split directory holding ``input_ids``
(``key id id ...``) and ``loss_mask`` (``key 0 0 1 1 ...``, same length, 1 = prediction target)
with the same sorted keys, plus ``stats.json``.

* ``spire_text_int`` is an ESPnet data type (``--train_data_path_and_name_and_type
  dump/lm/cpt/train/input_ids,input_ids,spire_text_int``) that indexes line offsets once and
  parses a line only when the sample is read, so multi-GB CPT files are not held in memory as
  Python lists (ESPnet's ``text_int`` parses the whole file up front).  ``text_int`` works too.
* ESPnet's batch samplers need a shape file (``key length``).  When none is given, the task
  derives one from ``input_ids`` (:func:`derive_shape_file`); ``--max_len`` drops longer samples
  from it (:func:`filter_shape_file`), so they are never batched.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Set, Tuple, Union

import numpy as np

from espnet_spire.common.fileio import write_lines

DATA_TYPE = "spire_text_int"


class LazyTextIntReader(Mapping):
    """``key -> np.ndarray[int64]`` over a ``key id id ...`` text file, read on demand.

    Only line offsets are kept in memory.  The file handle is opened per process, so the reader
    can be used by DataLoader workers.
    """

    def __init__(self, path: Union[str, Path], keys_to_load: Optional[Set[str]] = None):
        self.path = str(path)
        self._offsets: Dict[str, int] = {}
        self._fh = None
        self._pid = None
        with open(self.path, "rb") as f:
            offset = 0
            for lineno, raw in enumerate(f, 1):
                key = raw.split(maxsplit=1)[0].decode("utf-8") if raw.strip() else None
                if key is not None and (keys_to_load is None or key in keys_to_load):
                    if key in self._offsets:
                        raise RuntimeError(f"{self.path}:{lineno}: duplicated key {key}")
                    self._offsets[key] = offset
                offset += len(raw)

    def _handle(self):
        if self._fh is None or self._pid != os.getpid():
            self._fh = open(self.path, "rb")
            self._pid = os.getpid()
        return self._fh

    def __getitem__(self, key: str) -> np.ndarray:
        fh = self._handle()
        fh.seek(self._offsets[key])
        fields = fh.readline().split()
        return np.asarray([int(x) for x in fields[1:]], dtype=np.int64)

    def __iter__(self):
        return iter(self._offsets)

    def __len__(self) -> int:
        return len(self._offsets)

    def __contains__(self, key) -> bool:
        return key in self._offsets

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_fh"] = None
        state["_pid"] = None
        return state


def register_data_type() -> None:
    """Add ``spire_text_int`` to ESPnet's data-type registry (idempotent)."""
    from espnet2.train import dataset

    if DATA_TYPE not in dataset.DATA_TYPES:
        dataset.DATA_TYPES[DATA_TYPE] = dict(
            func=LazyTextIntReader,
            kwargs=["keys_to_load"],
            help="espnet_spire: like text_int, but reads each line on demand.",
        )


# ---------------------------------------------------------------------------- shape files
def derive_shape_file(text_path: Union[str, Path], out_path: Union[str, Path]) -> Path:
    """Write ``key length`` for every line of a ``key id id ...`` file."""
    lines = []
    with open(text_path, "rb") as f:
        for raw in f:
            parts = raw.split(maxsplit=1)
            if not parts:
                continue
            n = len(parts[1].split()) if len(parts) > 1 else 0
            lines.append(f"{parts[0].decode('utf-8')} {n}")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_lines(out_path, lines)
    return out_path


def filter_shape_file(
    shape_path: Union[str, Path], out_path: Union[str, Path], max_len: int
) -> Tuple[Path, int, int]:
    """Copy a shape file without the samples longer than ``max_len``.

    Returns (path, kept, dropped).
    """
    kept, dropped = [], 0
    with open(shape_path, encoding="utf-8") as f:
        for line in f:
            parts = line.split(maxsplit=1)
            if not parts:
                continue
            length = int(parts[1].split(",")[0])
            if length > max_len:
                dropped += 1
            else:
                kept.append(line.rstrip("\n"))
    if not kept:
        raise RuntimeError(f"--max_len {max_len} drops every sample of {shape_path}")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_lines(out_path, kept)
    return out_path, len(kept), dropped


def prepare_shape_files(
    data_path_and_name_and_type: Sequence[Sequence[str]],
    shape_files: Sequence[str],
    work_dir: Union[str, Path],
    max_len: Optional[int] = None,
) -> List[str]:
    """Shape files for ESPnet's batch sampler: given ones, or derived from ``input_ids``."""
    work_dir = Path(work_dir)
    shape_files = list(shape_files)
    if not shape_files:
        src = [p for p, name, _ in data_path_and_name_and_type if name == "input_ids"]
        if not src:
            raise RuntimeError("no input_ids data given: cannot derive a shape file")
        shape_files = [str(derive_shape_file(src[0], work_dir / "input_ids_shape"))]
        logging.info(f"Derived the shape file {shape_files[0]} from {src[0]}")
    if max_len is not None:
        out, kept, dropped = filter_shape_file(
            shape_files[0], work_dir / f"input_ids_shape.max{max_len}", max_len
        )
        logging.info(
            f"--max_len {max_len}: kept {kept}, dropped {dropped} samples ({shape_files[0]})"
        )
        shape_files = [str(out)] + shape_files[1:]
    return shape_files


# ---------------------------------------------------------------------------- collate / preprocess
class SpireLMCollateFn:
    """Pad ``input_ids`` with ``pad_id`` and ``loss_mask`` with 0; add ``attention_mask``.

    Returns ``(keys, batch)`` like ESPnet's ``CommonCollateFn``; ``batch`` holds ``input_ids``,
    ``input_ids_lengths``, ``loss_mask``, ``loss_mask_lengths`` and ``attention_mask`` (1 on real
    tokens).  Sequences are right-padded.
    """

    def __init__(self, pad_id: int = 0):
        self.pad_id = int(pad_id)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(pad_id={self.pad_id})"

    def __call__(self, data):
        import torch

        keys = [uid for uid, _ in data]
        lengths = [len(d["input_ids"]) for _, d in data]
        bsz, tmax = len(data), max(lengths) if lengths else 0
        input_ids = torch.full((bsz, tmax), self.pad_id, dtype=torch.long)
        loss_mask = torch.zeros((bsz, tmax), dtype=torch.long)
        attention = torch.zeros((bsz, tmax), dtype=torch.long)
        for i, (_, d) in enumerate(data):
            n = lengths[i]
            input_ids[i, :n] = torch.as_tensor(np.asarray(d["input_ids"]), dtype=torch.long)
            if "loss_mask" in d:
                lm = np.asarray(d["loss_mask"])
                if len(lm) != n:
                    raise ValueError(
                        f"{keys[i]}: loss_mask has {len(lm)} values, input_ids {n}"
                    )
                loss_mask[i, :n] = torch.as_tensor(lm, dtype=torch.long)
            else:
                loss_mask[i, :n] = 1
            attention[i, :n] = 1
        lens = torch.tensor(lengths, dtype=torch.long)
        batch = dict(
            input_ids=input_ids,
            input_ids_lengths=lens,
            loss_mask=loss_mask,
            loss_mask_lengths=lens.clone(),
            attention_mask=attention,
        )
        return keys, batch


class SpireLMPreprocessor:
    """Per-sample checks: equal lengths, 0/1 mask, ids inside the vocabulary, ``max_len``."""

    def __init__(self, vocab_size: Optional[int] = None, max_len: Optional[int] = None):
        self.vocab_size = vocab_size
        self.max_len = max_len

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(vocab_size={self.vocab_size}, max_len={self.max_len})"

    def __call__(self, uid: str, data: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        ids = np.asarray(data["input_ids"], dtype=np.int64)
        if ids.ndim != 1 or ids.size == 0:
            raise ValueError(f"{uid}: empty or malformed input_ids")
        if self.vocab_size is not None and (ids.max() >= self.vocab_size or ids.min() < 0):
            raise ValueError(
                f"{uid}: token id out of range [0, {self.vocab_size}): "
                f"min={ids.min()} max={ids.max()}"
            )
        if self.max_len is not None and ids.size > self.max_len:
            raise ValueError(f"{uid}: {ids.size} tokens > --max_len {self.max_len}")
        out = dict(data)
        out["input_ids"] = ids
        if "loss_mask" in data:
            mask = np.asarray(data["loss_mask"], dtype=np.int64)
            if mask.shape != ids.shape:
                raise ValueError(
                    f"{uid}: loss_mask has {mask.size} values, input_ids {ids.size}"
                )
            if ((mask != 0) & (mask != 1)).any():
                raise ValueError(f"{uid}: loss_mask must be 0/1")
            out["loss_mask"] = mask
        return out
