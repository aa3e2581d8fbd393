"""SSL features from a local Hugging Face HuBERT / wav2vec 2.0 / WavLM dir, SPIRE's way.

**Layer semantics.** "Layer L" is the output of transformer block L with *no final encoder
LayerNorm*: SPIRE keeps ``encoder.layers[:L]`` and, for HuBERT-large, replaces
``encoder.layer_norm`` by the identity, which equals fairseq ``extract_features(output_layer=L)``.
Where that LayerNorm sits depends on the architecture:

* pre-LN models (``do_stable_layer_norm=True``: HuBERT-large, wav2vec2-large-lv60, WavLM-large)
  apply it *after* the last block, so it is dropped;
* post-LN models (``do_stable_layer_norm=False``: HuBERT-base style) apply it *before* the first
  block, as part of the input, so it stays. (SpireLM removes it unconditionally, which would feed
  un-normalised inputs to a base model's first block; SPIRE itself only uses HuBERT-large.)

With transformers 5.x, ``output_hidden_states`` returns ``L+1`` states where state ``l`` is the
raw output of block ``l`` for both kinds (the final LayerNorm of pre-LN models appears only in
``last_hidden_state``); the tests check our truncated output against that.

**Input.** As the model's ``preprocessor_config.json`` says: with ``do_normalize`` each utterance
is scaled to zero mean / unit variance over its own samples (eps 1e-7, in float32, as
``Wav2Vec2FeatureExtractor``); padding is 0; an attention mask is passed when
``return_attention_mask`` is true.

**Batching.** Pieces are sorted by length, padded and masked. Padded and one-by-one runs agree
(up to float rounding of different matrix shapes) only when the conv front end normalises per
frame (``feat_extract_norm="layer"``) *and* an attention mask is used. HuBERT-base style models
(``feat_extract_norm="group"``) normalise the first conv layer over time, so padding changes
every frame: such models, and models whose preprocessor asks for no attention mask, are run one
piece at a time (the "safe path"), which is exactly what a batch of one gives.

**Long audio** is cut into ``chunk_seconds`` pieces on the frame grid (see
:func:`espnet_spire.units.features.plan_chunks`); utterances are normalised as a whole first.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from espnet_spire.units.features import FeatureExtractor, chunk_samples_for, plan_chunks
from espnet_spire.units.provenance import model_fingerprint

logger = logging.getLogger(__name__)

MODEL_CLASSES = {"hubert": "HubertModel", "wav2vec2": "Wav2Vec2Model", "wavlm": "WavLMModel"}
NORM_EPS = 1e-7  # Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm


def resolve_device(device: str) -> str:
    """``auto`` picks CUDA when present; anything else is passed to torch as is."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def read_preprocessor_config(model_dir: str, feat_extract_norm: str) -> Tuple[bool, bool]:
    """``(do_normalize, return_attention_mask)`` from ``preprocessor_config.json``.

    Without the file we assume SPIRE's setting (normalise) and use a mask exactly when the conv
    front end is padding-safe (layer norm), and say so in the log.
    """
    path = os.path.join(model_dir, "preprocessor_config.json")
    if not os.path.isfile(path):
        mask = feat_extract_norm == "layer"
        logger.warning(
            "%s has no preprocessor_config.json: assuming do_normalize=True, return_attention_mask=%s",
            model_dir,
            mask,
        )
        return True, mask
    with open(path, encoding="utf-8") as f:
        cfg = json.load(f)
    # Defaults of transformers' Wav2Vec2FeatureExtractor.
    return bool(cfg.get("do_normalize", True)), bool(cfg.get("return_attention_mask", False))


def normalize_waveform(wav: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance over the utterance's samples (float32, eps 1e-7)."""
    x = np.asarray(wav, dtype=np.float32)
    return (x - x.mean()) / np.sqrt(x.var() + NORM_EPS)


def truncate_encoder(model, layer: int):
    """Keep transformer blocks ``[:layer]``; drop the final LayerNorm of pre-LN models only."""
    import torch.nn as nn

    enc = model.encoder
    enc.layers = nn.ModuleList(list(enc.layers)[:layer])
    if model.config.do_stable_layer_norm:
        enc.layer_norm = nn.Identity()
    model.config.num_hidden_layers = layer
    return model


def conv_geometry(config) -> Tuple[int, int]:
    """``(receptive_field, hop)`` in samples of the conv feature encoder (400, 320 for HuBERT)."""
    rf, hop = 1, 1
    for k, s in zip(config.conv_kernel, config.conv_stride):
        rf += (k - 1) * hop
        hop *= s
    return rf, hop


class HFSSLExtractor(FeatureExtractor):
    """Features of transformer layer ``layer`` of a local HF SSL model (see module docstring)."""

    def __init__(
        self,
        model_dir: str,
        layer: int,
        dtype: str = "fp32",
        batch_size: int = 4,
        chunk_seconds: float = 100.0,
        normalize: Optional[bool] = None,
        device: str = "cpu",
    ) -> None:
        import torch
        import transformers

        if not os.path.isdir(model_dir):
            raise FileNotFoundError(f"SSL model dir not found: {model_dir}")
        config = transformers.AutoConfig.from_pretrained(model_dir, local_files_only=True)
        if config.model_type not in MODEL_CLASSES:
            raise ValueError(
                f"{model_dir}: model_type {config.model_type!r} is not supported; "
                f"use one of {sorted(MODEL_CLASSES)}"
            )
        total = config.num_hidden_layers
        if not 0 <= layer <= total:
            raise ValueError(f"{model_dir}: layer {layer} is outside [0, {total}] for this model")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model_dir = os.path.abspath(model_dir)
        self.layer = layer
        self.total_layers = total
        self.dtype_name = dtype
        self.torch_dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype]
        self.device = resolve_device(device)
        self.receptive_field, self.hop_samples = conv_geometry(config)
        self.chunk_seconds = float(chunk_seconds)
        self.chunk_samples = chunk_samples_for(self.chunk_seconds, self.hop_samples, self.sample_rate)
        self.feat_extract_norm = config.feat_extract_norm
        self.stable_layer_norm = bool(config.do_stable_layer_norm)
        cfg_norm, self.use_attention_mask = read_preprocessor_config(model_dir, self.feat_extract_norm)
        self.normalize = cfg_norm if normalize is None else bool(normalize)
        self.batched = self.use_attention_mask and self.feat_extract_norm == "layer"
        self.batch_size = batch_size if self.batched else 1
        if not self.batched and batch_size > 1:
            logger.info(
                "%s: feat_extract_norm=%s, attention mask=%s: running one piece at a time so "
                "padding cannot change the features",
                model_dir,
                self.feat_extract_norm,
                self.use_attention_mask,
            )
        model_cls = getattr(transformers, MODEL_CLASSES[config.model_type])
        model = model_cls.from_pretrained(model_dir, local_files_only=True, dtype=torch.float32)
        model = truncate_encoder(model, layer)
        self.model = model.eval().to(device=self.device, dtype=self.torch_dtype)
        self.model.requires_grad_(False)
        self.dim = int(config.hidden_size)
        self.model_type = config.model_type
        self._fingerprint = model_fingerprint(self.model_dir)
        logger.info(
            "Loaded %s (%s, %d/%d layers, %s, %s-LN, normalize=%s, mask=%s, batched=%s) on %s",
            model_dir,
            self.model_type,
            layer,
            total,
            dtype,
            "pre" if self.stable_layer_norm else "post",
            self.normalize,
            self.use_attention_mask,
            self.batched,
            self.device,
        )

    def describe(self) -> Dict[str, object]:
        return {
            "feature_type": "hf_ssl",
            "ssl_model": self.model_dir,
            "model_type": self.model_type,
            "config_sha256": self._fingerprint["config_sha256"],
            "weights_sha256": self._fingerprint["weights_sha256"],
            "layer": self.layer,
            "total_layers": self.total_layers,
            "final_layer_norm": False,
            "stable_layer_norm": self.stable_layer_norm,
            "feat_extract_norm": self.feat_extract_norm,
            "normalize": self.normalize,
            "attention_mask": self.use_attention_mask,
            "dtype": self.dtype_name,
            "chunk_seconds": self.chunk_seconds,
            "dim": self.dim,
            "sample_rate": self.sample_rate,
            "frame_rate": self.frame_rate,
        }

    def _forward(self, pieces: List[np.ndarray]) -> List[np.ndarray]:
        """One padded forward pass; returns the valid frames of each piece."""
        import torch

        lengths = [len(p) for p in pieces]
        batch = torch.zeros(len(pieces), max(lengths), dtype=torch.float32)
        mask = torch.zeros(len(pieces), max(lengths), dtype=torch.long)
        for i, p in enumerate(pieces):
            batch[i, : len(p)] = torch.from_numpy(p)
            mask[i, : len(p)] = 1
        batch = batch.to(device=self.device, dtype=self.torch_dtype)
        # An all-ones mask changes nothing but sends transformers down a much slower attention
        # path (2.4x on CPU), so pieces of equal length (e.g. batch size 1) go without one.
        padded = min(lengths) != max(lengths)
        kwargs = {"attention_mask": mask.to(self.device)} if self.use_attention_mask and padded else {}
        with torch.inference_mode():
            hidden = self.model(batch, **kwargs).last_hidden_state
        out = []
        for i, n in enumerate(lengths):
            frames = self.num_frames(n)
            if hidden.shape[1] < frames:  # would mean our frame formula is wrong
                raise RuntimeError(f"model gave {hidden.shape[1]} frames, expected >= {frames}")
            out.append(hidden[i, :frames].float().cpu().numpy())
        return out

    def __call__(self, wavs: Sequence[np.ndarray]) -> List[np.ndarray]:
        # 1. normalise whole utterances, 2. cut into pieces, 3. sort pieces by length and run
        # them in padded batches, 4. put the frames back together in input order.
        pieces: List[np.ndarray] = []
        owner: List[int] = []
        for u, wav in enumerate(wavs):
            x = normalize_waveform(wav) if self.normalize else np.asarray(wav, dtype=np.float32)
            for start, end in plan_chunks(len(x), self.chunk_samples, self.receptive_field, self.hop_samples):
                pieces.append(np.ascontiguousarray(x[start:end]))
                owner.append(u)
        order = sorted(range(len(pieces)), key=lambda i: (-len(pieces[i]), i))
        feats: List[Optional[np.ndarray]] = [None] * len(pieces)
        for b in range(0, len(order), self.batch_size):
            idx = order[b : b + self.batch_size]
            for i, f in zip(idx, self._forward([pieces[i] for i in idx])):
                feats[i] = f
        per_utt: List[List[np.ndarray]] = [[] for _ in wavs]
        for i, u in enumerate(owner):  # pieces were appended in time order per utterance
            per_utt[u].append(feats[i])
        return [
            np.concatenate(parts).astype(np.float32, copy=False)
            if parts
            else np.zeros((0, self.dim), dtype=np.float32)
            for parts in per_utt
        ]
