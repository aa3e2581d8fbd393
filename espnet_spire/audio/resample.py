"""Downmix, resample and quantise audio the same way for every utterance of the recipe.

Resampler: ``torchaudio.functional.resample`` (windowed-sinc, Hann window,
``lowpass_filter_width=6``, ``rolloff=0.99``).  Why this one:

* torchaudio is already part of the pinned stack (the SSL feature extractors use it), so no
  extra dependency such as soxr is needed;
* it is a band-limited polyphase resampler (after reducing the rates by their gcd), so
  44.1 kHz -> 16 kHz has no aliasing worth mentioning for speech features;
* on CPU with a fixed thread count it is deterministic, and its output length is exactly
  ``ceil(len * new_rate / orig_rate)``.

The parameters are written out explicitly so that a change of torchaudio's defaults cannot
silently change the dumped audio.
"""

from __future__ import annotations

import math

import numpy as np

RESAMPLE_KWARGS = {
    "lowpass_filter_width": 6,
    "rolloff": 0.99,
    "resampling_method": "sinc_interp_hann",
}


def downmix(audio: np.ndarray) -> np.ndarray:
    """Mono float32 by averaging the channels (``(samples,)`` input is returned as is)."""
    if audio.ndim == 1:
        return audio.astype(np.float32, copy=False)
    if audio.ndim != 2:
        raise ValueError(f"expected (samples,) or (samples, channels), got shape {audio.shape}")
    if audio.shape[1] == 1:
        return audio[:, 0].astype(np.float32, copy=False)
    return audio.mean(axis=1, dtype=np.float64).astype(np.float32)


def resampled_length(num_samples: int, orig_rate: int, new_rate: int) -> int:
    """Number of samples :func:`resample` returns for ``num_samples`` input samples."""
    if orig_rate == new_rate:
        return num_samples
    g = math.gcd(orig_rate, new_rate)
    return math.ceil(num_samples * (new_rate // g) / (orig_rate // g))


def resample(audio: np.ndarray, orig_rate: int, new_rate: int) -> np.ndarray:
    """Resample mono float32 audio; identity (no filtering) when the rates match."""
    if orig_rate == new_rate:
        return audio.astype(np.float32, copy=False)
    import torch
    import torchaudio.functional as taf

    wave = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
    out = taf.resample(wave, orig_rate, new_rate, **RESAMPLE_KWARGS)
    return out.numpy()


def to_pcm16(audio: np.ndarray) -> np.ndarray:
    """Float in [-1, 1) to int16: scale by 32768, round, clip.

    Scaling by 2**15 is the inverse of how soundfile reads 16-bit PCM, so 16-bit input that
    is neither resampled nor downmixed is written back bit-exactly.  Clipping is explicit
    because libsndfile wraps around on overflow by default.
    """
    scaled = np.rint(audio.astype(np.float64) * 32768.0)
    return np.clip(scaled, -32768, 32767).astype(np.int16)
