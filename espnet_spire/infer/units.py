"""Audio -> SPIRE unit strings for inference, with stage 5's own parts.

The features come from the stage-3 extractor registry, the labels from stage 5's assignment and
dedup (:func:`espnet_spire.units.label.units_to_text`). Which extractor to build is read from the
k-means model's ``kmeans.json`` (feature type, layer, normalisation, SSL model name and hashes);
a released SpireKMeans joblib records nothing, so HuBERT (``hf_ssl``) at ``--layer`` is assumed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np

from espnet_spire.units.assign import Assigner
from espnet_spire.units.extractors import build_extractor
from espnet_spire.units.features import FeatureConfig
from espnet_spire.units.kmeans import KMeansModel, load_kmeans, read_kmeans_facts
from espnet_spire.units.label import LabelOptions, units_to_text

logger = logging.getLogger(__name__)

# Recorded feature facts an extractor must reproduce (None in the record: not checked).
CHECKED_KEYS = ("feature_type", "layer", "normalize", "config_sha256", "weights_sha256")


@dataclass
class UnitConfig:
    """How units are made when the k-means model does not say (released SPIRE models)."""

    ssl_model: Optional[str] = None
    layer: int = 22
    ssl_dtype: str = "fp32"
    device: str = "cpu"
    batch_size: int = 4
    trust_pickle: bool = False  # a bare joblib k-means is a pickle: loaded only when trusted


def feature_config(facts: Dict[str, object], cfg: UnitConfig, source: str) -> FeatureConfig:
    """The stage-3 feature settings that made the units of this k-means model."""
    feat = dict(facts.get("feature") or {})
    ftype = feat.get("feature_type") or "hf_ssl"
    if ftype != "hf_ssl":
        if cfg.ssl_model:
            logger.warning("%s was learnt on %s features: --ssl_model %s is not used", source, ftype, cfg.ssl_model)
        return FeatureConfig(feature_type=str(ftype), device=cfg.device)
    if not cfg.ssl_model:
        name = feat.get("ssl_model") or "HuBERT-large (SPIRE: hubert-large-ll60k)"
        raise ValueError(f"the units of {source} are {name} features of layer {feat.get('layer') or cfg.layer}: "
                         "give --ssl_model DIR (a local Hugging Face copy of that model)")
    layer = feat.get("layer")
    return FeatureConfig(feature_type="hf_ssl", ssl_model=cfg.ssl_model,
                         layer=int(layer) if layer is not None else cfg.layer, dtype=cfg.ssl_dtype,
                         batch_size=cfg.batch_size, normalize=feat.get("normalize"), device=cfg.device)


def check_features(facts: Dict[str, object], identity: Dict[str, object], source: str) -> None:
    """Refuse an extractor whose recorded settings or weights differ from the k-means model's."""
    feat = facts.get("feature") or {}
    diff = [f"{k}: k-means learnt with {feat[k]!r}, now {identity.get(k)!r}"
            for k in CHECKED_KEYS if feat.get(k) is not None and feat[k] != identity.get(k)]
    if diff:
        raise ValueError(f"{source} was learnt on other features (" + "; ".join(diff) + "): its units would be "
                         "meaningless; give the SSL model and layer it was learnt with")


class UnitMaker:
    """``maker(wavs) -> [unit string]``: 16 kHz mono waveforms to deduplicated PUA unit strings."""

    def __init__(self, kmeans_path: str, cfg: Optional[UnitConfig] = None) -> None:
        cfg = cfg or UnitConfig()
        self.kmeans: KMeansModel = load_kmeans(kmeans_path, cfg.trust_pickle)
        self.facts = read_kmeans_facts(kmeans_path, cfg.trust_pickle)
        self.extractor = build_extractor(feature_config(self.facts, cfg, kmeans_path))
        self.kmeans.check_dim(self.extractor.dim)
        check_features(self.facts, self.extractor.identity(), kmeans_path)
        self.assigner = Assigner(self.kmeans.centers, device=getattr(self.extractor, "device", "cpu"))
        self.options = LabelOptions(dsu_format="pua", dedup=True)

    @property
    def num_units(self) -> int:
        return self.kmeans.num_units

    @property
    def min_samples(self) -> int:
        """The shortest waveform that gives one feature frame."""
        return int(self.extractor.receptive_field)

    def __call__(self, wavs: Sequence[np.ndarray]) -> List[str]:
        feats = self.extractor(list(wavs)) if len(wavs) else []
        return [units_to_text(self.assigner(f), self.num_units, self.options)[0] for f in feats]
