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
from typing import Dict, Iterable, List

import numpy as np

WEIGHT_FILE_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")
# Keys of config.json that change when a model is merely re-saved.
VOLATILE_CONFIG_KEYS = ("transformers_version", "_name_or_path", "torch_dtype", "dtype", "architectures")


def sha256_file(path: str, block: int = 1 << 22) -> str:
    """sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(block), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_array(arr: np.ndarray) -> str:
    """sha256 of an array's float32 little-endian C-order bytes (independent of the .npy header)."""
    a = np.ascontiguousarray(np.asarray(arr, dtype="<f4"))
    return hashlib.sha256(a.tobytes()).hexdigest()


def sha256_json(obj) -> str:
    """sha256 of a canonical JSON rendering (sorted keys), for settings signatures."""
    text = json.dumps(obj, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_text_lines(lines: Iterable[str]) -> str:
    """sha256 of lines joined with newlines (key lists)."""
    h = hashlib.sha256()
    for line in lines:
        h.update(line.encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


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


def write_json(path: str, obj) -> None:
    """Write JSON atomically (temp file + rename) so readers never see half a file."""
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, path)


def read_json(path: str):
    with open(path, encoding="utf-8") as f:
        return json.load(f)
