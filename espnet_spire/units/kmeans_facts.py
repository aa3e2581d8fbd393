"""What a k-means model is, in one small JSON that travels with it (``kmeans.json``).

Later stages need K (stage 6 sizes the tokenizer with it) and the feature settings (a model card
must say how to make units for new audio). Reading them from the artifact instead of from shell
options means a wrong ``--num_units`` is caught at once instead of surfacing as skipped rows.
The record holds no absolute path: the SSL model is named by its directory name and identified
by content hashes, so the file stays valid when the artifacts are copied elsewhere.
"""

from __future__ import annotations

import os
from typing import Dict, Optional

FACTS_NAME = "kmeans.json"
FACTS_VERSION = 1
# Feature settings copied from the stage-3 description (hashes identify the SSL checkpoint).
FEATURE_KEYS = ("feature_type", "layer", "normalize", "config_sha256", "weights_sha256", "frame_rate")


def feature_facts(feature: Optional[Dict[str, object]]) -> Dict[str, object]:
    """The path-free part of a feature description (``ssl_model`` becomes its directory name)."""
    feature = feature or {}
    out = {k: feature.get(k) for k in FEATURE_KEYS if k in feature}
    model = feature.get("ssl_model")
    out["ssl_model"] = os.path.basename(os.path.normpath(str(model))) if model else None
    return out


def make_kmeans_facts(num_units: int, dim: int, centers_sha256: str, feature: Optional[Dict[str, object]],
                      backend: Optional[str], seed: Optional[int]) -> Dict[str, object]:
    """The ``kmeans.json`` record written next to a learnt codebook."""
    return {
        "version": FACTS_VERSION,
        "num_units": int(num_units),
        "dim": int(dim),
        "centers_sha256": centers_sha256,
        "feature": feature_facts(feature),
        "backend": backend,
        "seed": seed,
    }

