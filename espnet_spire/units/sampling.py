"""Seeded, bounded-memory sampling of training frames for k-means.

Two levels keep the k-means input small whatever the corpus size (user pain point 1):

* :func:`keep_utterance` picks a ``portion`` of utterances by hashing ``(seed, uttid)``, so the
  choice does not depend on how keys are split into jobs or in which order they are read;
* :class:`FrameReservoir` keeps a uniform random sample of at most ``capacity`` frames from the
  stream of frames of those utterances (reservoir sampling, algorithm R), so memory is
  ``capacity x D`` floats and frames come from all over the stream, not from its start (the
  SpireLM online learner only ever saw the first hours, pitfall B7).
"""

from __future__ import annotations

import hashlib
from typing import Tuple

import numpy as np


def keep_utterance(uttid: str, portion: float, seed: int) -> bool:
    """Deterministic Bernoulli(portion) choice from a hash of ``seed`` and ``uttid``."""
    if portion >= 1.0:
        return True
    if portion <= 0.0:
        return False
    digest = hashlib.sha256(f"{seed}\0{uttid}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 < portion


def stream_seed(seed: int, *parts: str) -> int:
    """A 63-bit seed derived from a base seed and strings (e.g. the job's key list hash)."""
    h = hashlib.sha256(str(seed).encode("utf-8"))
    for p in parts:
        h.update(b"\0" + p.encode("utf-8"))
    return int.from_bytes(h.digest()[:8], "big") >> 1


class FrameReservoir:
    """Uniform sample of at most ``capacity`` rows from a stream of ``T x D`` blocks.

    Each kept row remembers ``(utterance index, frame index)`` so the sample can be written back
    per utterance in stream order. Algorithm R: row number ``t`` (0-based) of the stream replaces
    slot ``r ~ U{0..t}`` when ``r < capacity``; within one block, later rows win a contested slot,
    exactly as one-row-at-a-time processing would.
    """

    def __init__(self, capacity: int, dim: int, seed: int) -> None:
        if capacity < 1:
            raise ValueError(f"reservoir capacity must be >= 1, got {capacity}")
        self.capacity = int(capacity)
        self.dim = int(dim)
        self.rng = np.random.default_rng(seed)
        self.data = np.empty((self.capacity, self.dim), dtype=np.float32)
        self.utt = np.empty(self.capacity, dtype=np.int64)
        self.frame = np.empty(self.capacity, dtype=np.int64)
        self.filled = 0
        self.seen = 0

    def add(self, feats: np.ndarray, utt_index: int) -> None:
        """Offer all rows of one utterance to the reservoir."""
        n = feats.shape[0]
        if n == 0:
            return
        if feats.shape[1] != self.dim:
            raise ValueError(f"feature dimension {feats.shape[1]} != reservoir dimension {self.dim}")
        frames = np.arange(n, dtype=np.int64)
        # 1. fill free slots in order
        take = min(self.capacity - self.filled, n)
        if take > 0:
            sl = slice(self.filled, self.filled + take)
            self.data[sl] = feats[:take]
            self.utt[sl] = utt_index
            self.frame[sl] = frames[:take]
            self.filled += take
        # 2. the remaining rows replace random slots
        rest = n - take
        if rest > 0:
            t = self.seen + take + np.arange(rest, dtype=np.int64)  # 0-based stream positions
            r = (self.rng.random(rest) * (t + 1)).astype(np.int64)  # uniform on {0..t}
            hit = np.nonzero(r < self.capacity)[0]
            if hit.size:
                slots = r[hit]
                # keep the last row for a slot claimed twice (sequential semantics)
                _, last = np.unique(slots[::-1], return_index=True)
                chosen = hit[::-1][last]
                rows = take + chosen
                self.data[r[chosen]] = feats[rows]
                self.utt[r[chosen]] = utt_index
                self.frame[r[chosen]] = frames[rows]
        self.seen += n

    def sorted_sample(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(feats, utt_index, frame_index)`` of the sample in stream order."""
        n = self.filled
        order = np.lexsort((self.frame[:n], self.utt[:n]))
        return self.data[:n][order], self.utt[:n][order], self.frame[:n][order]
