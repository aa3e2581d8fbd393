"""Downmix, resample and quantise audio the same way for every utterance of the recipe.

Two resamplers (``--resampler``, the ``RESAMPLERS`` names), one implementation for stage 2 and
``spire-infer``:

* ``soxr_hq`` (default): libsoxr at its "HQ" quality, then padded/trimmed to
  ``ceil(len * new_rate / orig_rate)`` samples. This is exactly what
  ``librosa.resample(res_type="soxr_hq")`` returns, the resampler SpireLM's labeller uses (via
  ``datasets``/librosa), so units of non-16 kHz audio match SPIRE's.
* ``sinc``: ``torchaudio.functional.resample`` (windowed sinc, Hann window,
  ``lowpass_filter_width=6``, ``rolloff=0.99``), this recipe's resampler before soxr; kept for
  reproducing dumps made with it.

Both are deterministic on CPU and give the same number of samples. Audio already at the target
rate is returned unfiltered by either, so 16 kHz corpora give byte-identical dumps whichever is
chosen. The parameters are written out so a library's changed defaults cannot silently change
the dumped audio.
"""

from __future__ import annotations

import math
from typing import Dict, Tuple

import numpy as np

RESAMPLE_KWARGS = {
    "lowpass_filter_width": 6,
    "rolloff": 0.99,
    "resampling_method": "sinc_interp_hann",
}
SOXR_QUALITY = "HQ"
RESAMPLERS: Tuple[str, ...] = ("soxr_hq", "sinc")
DEFAULT_RESAMPLER = "soxr_hq"


def resampler_settings(method: str) -> Dict[str, object]:
    """Everything that defines a resampler's output (for job signatures)."""
    check_resampler(method)
    if method == "sinc":
        return {"method": "sinc", "torchaudio": RESAMPLE_KWARGS}
    return {"method": method, "soxr_quality": SOXR_QUALITY, "length": "ceil"}


def check_resampler(method: str) -> None:
    """Refuse an unknown resampler name, listing the valid ones."""
    if method not in RESAMPLERS:
        raise ValueError(f"unknown resampler {method!r}: use one of {', '.join(RESAMPLERS)}")


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


def _fix_length(audio: np.ndarray, size: int) -> np.ndarray:
    """Trim or zero-pad at the end to ``size`` samples (librosa's ``fix_length``)."""
    if len(audio) >= size:
        return audio[:size]
    return np.pad(audio, (0, size - len(audio)))


def resample(audio: np.ndarray, orig_rate: int, new_rate: int, method: str = DEFAULT_RESAMPLER) -> np.ndarray:
    """Resample mono float32 audio with ``method``; identity (no filtering) when the rates match."""
    check_resampler(method)
    if orig_rate == new_rate:
        return audio.astype(np.float32, copy=False)
    wave = np.ascontiguousarray(audio, dtype=np.float32)
    if method == "sinc":
        import torch
        import torchaudio.functional as taf

        return taf.resample(torch.from_numpy(wave), orig_rate, new_rate, **RESAMPLE_KWARGS).numpy()
    import soxr

    out = soxr.resample(wave, orig_rate, new_rate, quality=SOXR_QUALITY)
    return _fix_length(np.asarray(out, dtype=np.float32), resampled_length(len(wave), orig_rate, new_rate))


def to_pcm16(audio: np.ndarray) -> np.ndarray:
    """Float in [-1, 1) to int16: scale by 32768, round, clip.

    Scaling by 2**15 is the inverse of how soundfile reads 16-bit PCM, so 16-bit input that
    is neither resampled nor downmixed is written back bit-exactly.  Clipping is explicit
    because libsndfile wraps around on overflow by default.
    """
    scaled = np.rint(audio.astype(np.float64) * 32768.0)
    return np.clip(scaled, -32768, 32767).astype(np.int16)
