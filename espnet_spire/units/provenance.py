"""Hashes and version records that tie unit artifacts to what produced them.

Units silently change with the SSL checkpoint, the layer or the k-means model (user pain points
2-4), so every artifact records content hashes (not just paths) and library versions, and the
labelling stage compares them before it writes anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from functools import lru_cache
from typing import Dict, List

# Generic helpers live in espnet_spire.common; re-exported for the artifact-facts code.
from espnet_spire.common.fileio import read_json, write_json  # noqa: F401
from espnet_spire.common.hashing import (  # noqa: F401
    sha256_array,
    sha256_file,
    sha256_json,
    sha256_text_lines,
)

WEIGHT_FILE_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")
# Keys of config.json that change when a model is merely re-saved.
VOLATILE_CONFIG_KEYS = ("transformers_version", "_name_or_path", "torch_dtype", "dtype", "architectures")


@lru_cache(maxsize=8)
def model_fingerprint(model_dir: str) -> Dict[str, object]:
    """Content hashes of a local Hugging Face model dir: config (minus volatile keys) and weights.

    Weight files are hashed in sorted name order; for a 1.2 GB HuBERT-large this takes ~1-3 s,
    which is cheap next to feature extraction and catches a swapped checkpoint under the same path.
    """
    cfg_path = os.path.join(model_dir, "config.json")
    with open(cfg_path, encoding="utf-8") as f:
        cfg = json.load(f)
    for key in VOLATILE_CONFIG_KEYS:
        cfg.pop(key, None)
    weight_files: List[str] = sorted(
        name for name in os.listdir(model_dir) if name.endswith(WEIGHT_FILE_SUFFIXES)
    )
    h = hashlib.sha256()
    for name in weight_files:
        h.update(name.encode("utf-8") + b"\0")
        h.update(sha256_file(os.path.join(model_dir, name)).encode("ascii"))
    return {
        "config_sha256": sha256_json(cfg),
        "weights_sha256": h.hexdigest() if weight_files else None,
        "weight_files": weight_files,
    }


def library_versions() -> Dict[str, str]:
    """Versions of the libraries whose numerics or pickles matter for units."""
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for dist in ("numpy", "torch", "torchaudio", "transformers", "scikit-learn", "faiss-cpu", "joblib"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    try:
        from espnet_spire import __version__

        out["espnet_spire"] = __version__
    except ImportError:  # pragma: no cover
        pass
    return out
