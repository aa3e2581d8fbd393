"""Feature extractors by name (``--feature_type``): the registry and the factory.

Registering here, above both the interface (:mod:`.features`) and the implementations
(:mod:`.mfcc`, :mod:`.hf_ssl`), keeps the imports one-way. Importing this module does not import
torch; the extractors import it when they are built.
"""

from __future__ import annotations

from typing import Callable

from espnet_spire.common.registry import Registry
from espnet_spire.units.features import DTYPES, FeatureConfig, FeatureExtractor
from espnet_spire.units.hf_ssl import HFSSLExtractor
from espnet_spire.units.mfcc import MfccExtractor

FEATURE_EXTRACTORS: Registry[Callable[[FeatureConfig], FeatureExtractor]] = Registry("feature type")


@FEATURE_EXTRACTORS.register("mfcc")
def _mfcc(cfg: FeatureConfig) -> FeatureExtractor:
    """39-dim Kaldi MFCC + deltas at 100 Hz."""
    return MfccExtractor(frame_shift_ms=10.0)


@FEATURE_EXTRACTORS.register("mfcc50")
def _mfcc50(cfg: FeatureConfig) -> FeatureExtractor:
    """The same at 50 Hz (the frame rate of HuBERT)."""
    return MfccExtractor(frame_shift_ms=20.0)


@FEATURE_EXTRACTORS.register("hf_ssl")
def _hf_ssl(cfg: FeatureConfig) -> FeatureExtractor:
    """A local Hugging Face SSL model cut after ``cfg.layer``."""
    if not cfg.ssl_model:
        raise ValueError("feature_type hf_ssl needs --ssl_model (a local Hugging Face model dir)")
    if cfg.layer is None:
        raise ValueError("feature_type hf_ssl needs --layer (SPIRE uses 22 for HuBERT-large)")
    return HFSSLExtractor(
        cfg.ssl_model,
        layer=cfg.layer,
        dtype=cfg.dtype,
        batch_size=cfg.batch_size,
        chunk_seconds=cfg.chunk_seconds,
        normalize=cfg.normalize,
        device=cfg.device,
    )


def build_extractor(cfg: FeatureConfig) -> FeatureExtractor:
    """Instantiate the extractor named by ``cfg.feature_type``."""
    if cfg.dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {cfg.dtype!r}")
    return FEATURE_EXTRACTORS.get(cfg.feature_type)(cfg)
