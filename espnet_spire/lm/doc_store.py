"""Tokenized documents kept on disk and read back by index.

The CPT builder must choose documents in a seeded random order over the whole corpus and pack
them in that order, so it needs random access to every document after one reading pass. Holding
the documents in memory made its memory grow with the corpus (pain point at the paper's 6B
tokens); this store keeps token ids and keys in two files and, in memory, only a few fixed-size
numbers per document (length, kind, source, two offsets: 23 bytes), so memory stays nearly flat.
Reads use ``os.pread``: the pages stay in the OS page cache, not in the process.
"""

from __future__ import annotations

import os
from array import array
from typing import Dict, List

import numpy as np

TOKENS_FILE = "tokens.int32"
KEYS_FILE = "keys.txt"
KINDS = ("speech", "text")


class DocStore:
    """Append documents (``add``), then ``finish`` and read them by index (``tokens``, ``key``)."""

    def __init__(self, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)
        self.directory = directory
        self._tok = open(os.path.join(directory, TOKENS_FILE), "wb")
        self._keys = open(os.path.join(directory, KEYS_FILE), "wb")
        self.lengths = array("i")
        self.kinds = array("B")
        self.sources = array("H")
        self.source_names: List[str] = []
        self._source_index: Dict[str, int] = {}
        self._key_offsets = array("q")
        self._key_pos = 0
        self._tok_offsets = np.zeros(0, dtype=np.int64)
        self._fds: Dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.lengths)

    def add(self, key: str, source: str, kind: str, ids: np.ndarray) -> None:
        """Append one document's token ids (int32)."""
        if source not in self._source_index:
            self._source_index[source] = len(self.source_names)
            self.source_names.append(source)
        self._tok.write(np.ascontiguousarray(ids, dtype=np.int32).tobytes())
        raw = key.encode("utf-8", "surrogateescape") + b"\n"
        self._keys.write(raw)
        self._key_offsets.append(self._key_pos)
        self._key_pos += len(raw)
        self.lengths.append(len(ids))
        self.kinds.append(KINDS.index(kind))
        self.sources.append(self._source_index[source])

    def finish(self) -> None:
        """Close the files for writing and open them for reading."""
        self._tok.close()
        self._keys.close()
        self._tok_offsets = np.zeros(len(self.lengths) + 1, dtype=np.int64)
        np.cumsum(np.frombuffer(self.lengths, dtype=np.int32), out=self._tok_offsets[1:])
        for name in (TOKENS_FILE, KEYS_FILE):
            self._fds[name] = os.open(os.path.join(self.directory, name), os.O_RDONLY)

    def source(self, i: int) -> str:
        return self.source_names[self.sources[i]]

    def tokens(self, i: int) -> np.ndarray:
        """Token ids of document ``i``."""
        start = int(self._tok_offsets[i])
        raw = os.pread(self._fds[TOKENS_FILE], 4 * self.lengths[i], 4 * start)
        return np.frombuffer(raw, dtype=np.int32)

    def key(self, i: int) -> str:
        """Id of document ``i``."""
        start = self._key_offsets[i]
        end = self._key_offsets[i + 1] if i + 1 < len(self._key_offsets) else self._key_pos
        raw = os.pread(self._fds[KEYS_FILE], end - start - 1, start)
        return raw.decode("utf-8", "surrogateescape")

    def close(self) -> None:
        """Release the files (the caller removes the directory)."""
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        if not self._tok.closed:
            self._tok.close()
            self._keys.close()
