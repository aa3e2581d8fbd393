"""The interface every frame-level feature extractor implements, and its settings.

Interface: ``extractor(wavs) -> feats`` where ``wavs`` is a sequence of 1-D float arrays (16 kHz
mono) and ``feats[i]`` is a ``T_i x D`` float32 array. Two kinds exist:

* ``mfcc`` / ``mfcc50`` (:mod:`.mfcc`): 39-dim Kaldi MFCC + deltas at 100 Hz / 50 Hz; needs no
  weights (CI, smoke runs, the demo).
* ``hf_ssl`` (:mod:`.hf_ssl`): a local Hugging Face HuBERT / wav2vec 2.0 / WavLM dir, cut after
  transformer layer L the way SPIRE does (layer 22 of HuBERT-large, no final LayerNorm).

The extractors are built by name through the registry of :mod:`.extractors` (this module
imports none of them, so they can import it). Every extractor describes itself
(:meth:`FeatureExtractor.describe`) so that k-means artifacts and unit files record exactly
which features produced them.
"""

from __future__ import annotations

import abc
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

DTYPES = ("fp32", "bf16")
# Keys of describe() that define *which* features come out; a k-means model is only valid for
# features that agree on all of them.
IDENTITY_KEYS = ("feature_type", "dim", "weights_sha256", "config_sha256", "layer", "normalize")


@dataclass
class FeatureConfig:
    """User-facing feature settings (CLI flags map one to one)."""

    feature_type: str = "hf_ssl"
    ssl_model: Optional[str] = None  # local HF model dir (hf_ssl only)
    layer: Optional[int] = 22  # SPIRE: output of transformer block 22 of HuBERT-large
    dtype: str = "fp32"  # fp32 (paper era) or bf16 (SpireLM HEAD evaluation plans)
    batch_size: int = 4  # utterance pieces per forward pass (SpireLM recipes use 4)
    chunk_seconds: float = 100.0  # long audio is cut into pieces of this length (0: never)
    normalize: Optional[bool] = None  # None: as the model's preprocessor_config.json says
    device: str = "cpu"

    def to_dict(self) -> Dict[str, object]:
        return asdict(self)


class FeatureExtractor(abc.ABC):
    """Common interface; subclasses set ``dim``, ``hop_samples`` and ``receptive_field``."""

    dim: int
    hop_samples: int
    receptive_field: int
    sample_rate: int = 16000

    def num_frames(self, n_samples: int) -> int:
        """Frames for an utterance of ``n_samples`` (0 when shorter than one window)."""
        if n_samples < self.receptive_field:
            return 0
        return (n_samples - self.receptive_field) // self.hop_samples + 1

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_samples

    @abc.abstractmethod
    def __call__(self, wavs: Sequence[np.ndarray]) -> List[np.ndarray]:
        """Features of each waveform, ``num_frames(len(w)) x dim`` float32, in input order."""

    @abc.abstractmethod
    def describe(self) -> Dict[str, object]:
        """Everything that determines the features (for provenance and signatures)."""

    def identity(self) -> Dict[str, object]:
        """The subset of :meth:`describe` a k-means model must agree with."""
        d = self.describe()
        return {k: d.get(k) for k in IDENTITY_KEYS}


def plan_chunks(
    n_samples: int, chunk_samples: int, receptive_field: int, hop: int
) -> List[Tuple[int, int]]:
    """Cut ``[0, n_samples)`` into pieces whose frames tile the utterance's own frame grid.

    Piece k starts at ``k * chunk_samples`` (a multiple of the hop) and runs ``receptive_field -
    hop`` samples past the next start, so it yields exactly ``chunk_samples / hop`` frames and the
    concatenated frames number ``(n - rf) // hop + 1`` as for one pass over the whole utterance.
    Boundary effect: each piece is encoded on its own, so frames near a cut see less context (the
    transformer attends within the piece, the positional convolution sees zeros beyond it) and may
    differ from a one-pass encoding; with 100 s pieces (the SPIRE paper-era setting) only
    utterances longer than 100 s are affected. ``chunk_samples <= 0`` disables cutting.
    """
    if n_samples < receptive_field:
        return []
    if chunk_samples <= 0 or n_samples <= chunk_samples + receptive_field - hop:
        return [(0, n_samples)]
    if chunk_samples % hop:
        raise ValueError(f"chunk length {chunk_samples} must be a multiple of the hop {hop}")
    pieces = []
    start = 0
    while n_samples - start >= receptive_field:
        pieces.append((start, min(start + chunk_samples + receptive_field - hop, n_samples)))
        start += chunk_samples
    return pieces


def chunk_samples_for(seconds: float, hop: int, sample_rate: int = 16000) -> int:
    """Chunk length in samples rounded down to a whole number of hops (0 = no chunking)."""
    if seconds <= 0:
        return 0
    n = int(round(seconds * sample_rate)) // hop * hop
    if n <= 0:
        raise ValueError(f"chunk of {seconds} s is shorter than one hop ({hop} samples)")
    return n
