"""Shared test helpers for the units tests: real AN4 speech and tiny random SSL models.

Nothing is downloaded: the AN4 archive is the project's shared test data (extracted to a
temporary dir, never copied into the repo) and the SSL models are random tiny configs.
"""

from __future__ import annotations

import functools
import json
import os
import tarfile
import tempfile
from typing import Dict, List, Tuple

import numpy as np

from _shared_data import shared_data

_TMP = tempfile.TemporaryDirectory(prefix="units_tests_")


@functools.lru_cache(maxsize=1)
def an4_wavs() -> List[Tuple[str, str]]:
    """``[(uttid, path.wav)]`` of the 8 AN4 recordings, as 16 kHz mono PCM-16 wav files."""
    import soundfile as sf

    root = os.path.join(_TMP.name, "an4")
    with tarfile.open(shared_data("mini_an4", "downloads.tar.gz")) as tar:
        members = [m for m in tar.getmembers() if m.name.endswith(".sph")]
        tar.extractall(root, members=members, filter="data")
    out = []
    for m in sorted(members, key=lambda m: m.name):
        wav, rate = sf.read(os.path.join(root, m.name), dtype="int16")
        assert rate == 16000 and wav.ndim == 1
        name = os.path.basename(m.name)[: -len(".sph")]
        uttid = "-".join(reversed(name.split("-")[:2])) + "-" + name.split("-")[2]
        path = os.path.join(root, f"{uttid}.wav")
        sf.write(path, wav, 16000, subtype="PCM_16")
        out.append((uttid, path))
    return out


def an4_arrays() -> List[np.ndarray]:
    import soundfile as sf

    return [sf.read(p, dtype="float32")[0] for _, p in an4_wavs()]


def make_tiny_ssl(
    path: str,
    kind: str = "hubert",
    stable: bool = True,
    layers: int = 3,
    seed: int = 0,
    preprocessor: Dict[str, object] | None = None,
) -> str:
    """Save a random tiny HuBERT/wav2vec2/WavLM (pre-LN + layer-norm front end when ``stable``)."""
    import torch
    import transformers

    cfg_cls, model_cls = {
        "hubert": (transformers.HubertConfig, transformers.HubertModel),
        "wav2vec2": (transformers.Wav2Vec2Config, transformers.Wav2Vec2Model),
        "wavlm": (transformers.WavLMConfig, transformers.WavLMModel),
    }[kind]
    cfg = cfg_cls(
        hidden_size=32,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(16,) * 7,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        do_stable_layer_norm=stable,
        feat_extract_norm="layer" if stable else "group",
    )
    torch.manual_seed(seed)
    model_cls(cfg).save_pretrained(path)
    if preprocessor is None:  # what hubert-large-ll60k / hubert-base-ls960 ship
        preprocessor = {"do_normalize": True, "return_attention_mask": stable}
    pre = {"feature_extractor_type": "Wav2Vec2FeatureExtractor", "feature_size": 1, "padding_side": "right",
           "padding_value": 0.0, "sampling_rate": 16000, **preprocessor}
    with open(os.path.join(path, "preprocessor_config.json"), "w") as f:
        json.dump(pre, f)
    return path


def write_wav_scp(data_dir: str, entries: List[Tuple[str, str]]) -> str:
    os.makedirs(data_dir, exist_ok=True)
    with open(os.path.join(data_dir, "wav.scp"), "w") as f:
        for uttid, path in sorted(entries):
            f.write(f"{uttid} {path}\n")
    return data_dir


def write_keys(path: str, keys: List[str]) -> str:
    with open(path, "w") as f:
        f.write("".join(f"{k}\n" for k in keys))
    return path
