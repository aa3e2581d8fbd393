"""Content hashes (sha256) that tie outputs to exactly what produced them.

Done markers, k-means and model artifacts store hashes of contents rather than paths, so a
changed input under the same name is noticed.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Iterable, Sequence

import numpy as np

from espnet_spire.common.fileio import PathLike

_BLOCK = 1 << 22


def _update_from_file(h: "hashlib._Hash", path: PathLike) -> None:
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_BLOCK), b""):
            h.update(chunk)


def sha256_file(path: PathLike) -> str:
    """sha256 of a file's bytes."""
    h = hashlib.sha256()
    _update_from_file(h, path)
    return h.hexdigest()


def sha256_files(paths: Sequence[PathLike]) -> str:
    """One hash over several files (name, NUL, bytes, NUL each); a missing file counts as empty."""
    h = hashlib.sha256()
    for path in paths:
        h.update(os.path.basename(path).encode() + b"\0")
        if os.path.isfile(path):
            _update_from_file(h, path)
        h.update(b"\0")
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    """sha256 of raw bytes."""
    return hashlib.sha256(data).hexdigest()


def sha256_array(arr: np.ndarray) -> str:
    """sha256 of an array's float32 little-endian C-order bytes (independent of the .npy header)."""
    a = np.ascontiguousarray(np.asarray(arr, dtype="<f4"))
    return sha256_bytes(a.tobytes())


def sha256_json(obj: Any) -> str:
    """sha256 of a canonical JSON rendering (sorted keys), for settings signatures."""
    text = json.dumps(obj, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return sha256_bytes(text.encode("utf-8"))


def sha256_text_lines(lines: Iterable[str]) -> str:
    """sha256 of lines each followed by a newline (key lists; stray non-UTF-8 bytes read with
    ``surrogateescape`` hash as those bytes)."""
    h = hashlib.sha256()
    for line in lines:
        h.update(line.encode("utf-8", "surrogateescape"))
        h.update(b"\n")
    return h.hexdigest()
