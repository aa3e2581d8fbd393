"""39-dim MFCC features (13 cepstra + deltas + delta-deltas), the weight-free feature type.

Two frame rates: ``mfcc`` (10 ms shift, 100 Hz, Kaldi's default) and ``mfcc50`` (20 ms shift,
50 Hz: HuBERT's frame rate, so a demo's unit sequences are as long per second as SPIRE's, about
a third shorter than at 100 Hz, which makes the LLM stages proportionally cheaper).

Used for CI and smoke runs where no SSL checkpoint exists (ESPnet's asr2/lm1 CI does the same).
Kaldi-compatible settings: 25 ms windows every 10 ms (100 Hz), ``snip_edges`` framing so an
utterance of N >= 400 samples gives ``(N - 400) // 160 + 1`` frames, no dither (deterministic),
deltas over a 5-frame window, then per-utterance mean/variance normalisation so that loudness
and channel offsets do not dominate the k-means clusters.
"""

from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np

from espnet_spire.units.features import FeatureExtractor

NUM_CEPS = 13
CMVN_EPS = 1e-5


class MfccExtractor(FeatureExtractor):
    """Kaldi MFCC + deltas + delta-deltas with per-utterance CMVN; one utterance at a time."""

    dim = 3 * NUM_CEPS
    receptive_field = 400

    def __init__(self, frame_shift_ms: float = 10.0) -> None:
        import torch  # noqa: F401  (fail early with a clear ImportError)

        if frame_shift_ms not in (10.0, 20.0):
            raise ValueError(f"MFCC frame shift must be 10 or 20 ms, got {frame_shift_ms}")
        self.frame_shift_ms = float(frame_shift_ms)
        self.hop_samples = int(round(self.sample_rate * self.frame_shift_ms / 1000.0))
        self.name = "mfcc" if self.frame_shift_ms == 10.0 else "mfcc50"

    def _one(self, wav: np.ndarray) -> np.ndarray:
        import torch
        import torchaudio.compliance.kaldi as kaldi
        import torchaudio.functional as taf

        if self.num_frames(len(wav)) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Kaldi works on the int16 scale; the scale only shifts c0, which CMVN removes anyway.
        x = torch.from_numpy(np.asarray(wav, dtype=np.float32) * 32768.0).unsqueeze(0)
        with torch.inference_mode():
            ceps = kaldi.mfcc(
                x,
                sample_frequency=float(self.sample_rate),
                num_ceps=NUM_CEPS,
                frame_length=25.0,
                frame_shift=self.frame_shift_ms,
                dither=0.0,
                use_energy=False,
            )  # T x 13
            c = ceps.transpose(0, 1)  # 13 x T (compute_deltas works on the last axis)
            d1 = taf.compute_deltas(c, win_length=5)
            d2 = taf.compute_deltas(d1, win_length=5)
            feats = torch.cat([c, d1, d2], dim=0).transpose(0, 1)  # T x 39
            mean = feats.mean(dim=0, keepdim=True)
            std = feats.std(dim=0, unbiased=False, keepdim=True)
            feats = (feats - mean) / (std + CMVN_EPS)
        return feats.numpy().astype(np.float32, copy=False)

    def __call__(self, wavs: Sequence[np.ndarray]) -> List[np.ndarray]:
        return [self._one(w) for w in wavs]

    def describe(self) -> Dict[str, object]:
        return {
            "feature_type": self.name,
            "dim": self.dim,
            "num_ceps": NUM_CEPS,
            "deltas": 2,
            "frame_length_ms": 25.0,
            "frame_shift_ms": self.frame_shift_ms,
            "cmvn": "per-utterance mean/variance",
            "normalize": True,
            "layer": None,
            "weights_sha256": None,
            "config_sha256": None,
            "sample_rate": self.sample_rate,
            "frame_rate": self.frame_rate,
        }
