"""Nearest-centroid assignment, computed the way SPIRE (and fairseq ``dump_km_label``) does.

``label = argmin_k ||x||^2 - 2 x.c_k + ||c_k||^2`` with the *first* index winning ties
(compat vector 10). ``torch.argmin`` guarantees first-index ties; squared norms of the centroids
are computed once in float32. Frames are processed in chunks so memory stays at
``chunk_size x K`` distances whatever the utterance length.

Back ends (the ``ASSIGN_BACKENDS`` registry): ``torch`` (default; fp32, or bf16 like SpireLM
HEAD's evaluation plans where the frames, centroids and norms are all cast, which flips ~1% of
labels) and ``faiss`` (``IndexFlatL2``, exhaustive L2 search; equal labels except on exact ties).
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from espnet_spire.common.registry import Registry

# name -> class built as ``cls(centers, dtype, device, chunk_size)``, called on float32 frames.
ASSIGN_BACKENDS: Registry[Callable[..., Callable[[np.ndarray], np.ndarray]]] = Registry("assignment backend")


@ASSIGN_BACKENDS.register("torch")
class TorchSearch:
    """Chunked distance matrix and ``argmin`` (first index wins ties); fp32 or bf16."""

    def __init__(self, centers: np.ndarray, dtype: str, device: str, chunk_size: int) -> None:
        import torch

        from espnet_spire.units.hf_ssl import resolve_device

        self.device = resolve_device(device)
        self.chunk_size = int(chunk_size)
        self._torch_dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype]
        c = torch.from_numpy(centers).to(self.device)
        self._ct = c.t().contiguous().to(self._torch_dtype)  # D x K
        self._cnorm = (c * c).sum(dim=1).to(self._torch_dtype)  # K, from fp32 values

    def __call__(self, feats: np.ndarray) -> np.ndarray:
        import torch

        out = []
        with torch.inference_mode():
            for s in range(0, feats.shape[0], self.chunk_size):
                x = torch.from_numpy(feats[s : s + self.chunk_size]).to(self.device, self._torch_dtype)
                dist = (x * x).sum(dim=1, keepdim=True) - 2 * (x @ self._ct) + self._cnorm
                out.append(dist.argmin(dim=1).cpu())
        return torch.cat(out).numpy().astype(np.int64)


@ASSIGN_BACKENDS.register("faiss")
class FaissSearch:
    """Exhaustive L2 search with ``faiss.IndexFlatL2`` (fp32 only)."""

    def __init__(self, centers: np.ndarray, dtype: str, device: str, chunk_size: int) -> None:
        import faiss

        if dtype != "fp32":
            raise ValueError("the faiss backend computes in fp32 only")
        self.device = "cpu"
        self._index = faiss.IndexFlatL2(centers.shape[1])
        self._index.add(centers)

    def __call__(self, feats: np.ndarray) -> np.ndarray:
        _, idx = self._index.search(feats, 1)
        return idx[:, 0].astype(np.int64)


class Assigner:
    """Maps ``T x D`` feature arrays to ``T`` int64 unit ids in ``[0, K)``."""

    def __init__(
        self,
        centers: np.ndarray,
        backend: str = "torch",
        dtype: str = "fp32",
        device: str = "cpu",
        chunk_size: int = 10000,
    ) -> None:
        centers = np.ascontiguousarray(centers, dtype=np.float32)
        if centers.ndim != 2 or centers.shape[0] < 1:
            raise ValueError(f"centers must be a non-empty K x D matrix, got shape {centers.shape}")
        search_cls = ASSIGN_BACKENDS.get(backend)
        if dtype not in ("fp32", "bf16"):
            raise ValueError(f"assignment dtype must be fp32 or bf16, got {dtype!r}")
        self.num_units, self.dim = centers.shape
        self.backend = backend
        self.dtype = dtype
        self._search = search_cls(centers, dtype, device, chunk_size)
        self.device = self._search.device

    def __call__(self, feats: np.ndarray) -> np.ndarray:
        feats = np.asarray(feats)
        if feats.ndim != 2 or feats.shape[1] != self.dim:
            raise ValueError(
                f"features have shape {feats.shape}, but the k-means centroids have dimension {self.dim}"
            )
        if feats.shape[0] == 0:
            return np.zeros(0, dtype=np.int64)
        return self._search(np.ascontiguousarray(feats, dtype=np.float32))


def assign(centers: np.ndarray, feats: np.ndarray, backend: str = "torch", dtype: Optional[str] = "fp32") -> np.ndarray:
    """One-off convenience wrapper around :class:`Assigner`."""
    return Assigner(centers, backend=backend, dtype=dtype or "fp32")(feats)
