"""What the plan reads from existing inputs, never loading weights or decoding a whole corpus.

Data dirs: utterances, hours (``utt2dur``, else ``segments``, else audio headers of a sample),
transcript characters and measured units; models: ``config.json`` and safetensors headers;
k-means: :func:`espnet_spire.units.kmeans.read_kmeans_facts`; training configs: YAML and the
DeepSpeed JSON they name.
"""

from __future__ import annotations

import glob
import json
import os
import random
import struct
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import yaml

from espnet_spire.audio.wav_scp import is_pipe, probe_audio
from espnet_spire.common.kaldi_dir import iter_kaldi_file
from espnet_spire.data.validate import describe, validate_data_dir

DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
               "BOOL": 1, "float32": 4, "float16": 2, "bfloat16": 2}


@dataclass
class DataStats:
    """Sizes of one speech data dir; ``source`` says where the duration came from."""

    path: str
    utts: int
    seconds: float
    source: str
    transcript_chars: int
    units: Optional[int] = None          # measured in dump/units/<set>/units when it exists
    units_seconds: float = 0.0           # audio seconds of the utterances that have units

    @property
    def hours(self) -> float:
        return self.seconds / 3600.0


def check_data_dir(path: str, speech: bool = True) -> List[str]:
    """Problems of a data dir: the structure checks of the data-dir checker (no audio decoding);
    a text-only dir needs at least one ``text.tc.<lang>``."""
    if not os.path.isdir(path):
        return [f"data dir {path} does not exist"]
    if not speech:
        if not glob.glob(os.path.join(path, "text.tc.*")):
            return [f"text data dir {path} has no text.tc.<lang> file"]
        return []
    result = validate_data_dir(path, check_audio=False)
    return [f"data dir {path} is invalid: {line}" for line in describe(result.first_errors())]


def _keys(path: str) -> List[str]:
    return [line.key for line in iter_kaldi_file(path) if line.key]


def _sum_values(path: str) -> float:
    return sum(float(line.value) for line in iter_kaldi_file(path) if line.key)


def _segment_seconds(path: str) -> float:
    total = 0.0
    for line in iter_kaldi_file(path):
        fields = line.value.split()
        if len(fields) >= 3:
            total += float(fields[2]) - float(fields[1])
    return total


def _entry_seconds(entry: str) -> float:
    """Duration of one wav.scp entry: the header of a file, a decode of a pipe."""
    if is_pipe(entry):
        info = probe_audio(entry)
        return info.frames / info.rate
    import soundfile

    return float(soundfile.info(entry.strip()).duration)


def data_stats(path: str, sample: int = 200, seed: int = 0, units_file: Optional[str] = None) -> DataStats:
    """Utterances, seconds and transcript characters of a speech data dir.

    Seconds: the sum of ``utt2dur`` when present, else of ``segments`` (end - start), else the
    mean of ``sample`` randomly chosen ``wav.scp`` entries (headers; pipes decoded) x utterances.
    ``units_file`` (stage 5 output) gives the measured number of units when it exists.
    """
    seg = os.path.join(path, "segments")
    utt_ids = _keys(seg) if os.path.isfile(seg) else _keys(os.path.join(path, "wav.scp"))
    if os.path.isfile(os.path.join(path, "utt2dur")):
        seconds, source = _sum_values(os.path.join(path, "utt2dur")), "utt2dur"
    elif os.path.isfile(seg):
        seconds, source = _segment_seconds(seg), "segments"
    else:
        entries = [line.value for line in iter_kaldi_file(os.path.join(path, "wav.scp")) if line.key]
        picked = entries if len(entries) <= sample else random.Random(seed).sample(entries, sample)
        mean = sum(_entry_seconds(e) for e in picked) / max(1, len(picked))
        seconds = mean * len(utt_ids)
        source = "audio headers" if len(picked) == len(entries) else \
            f"audio headers of {len(picked)} sampled of {len(entries)} files"
    text = os.path.join(path, "text")
    chars = sum(len(line.value) for line in iter_kaldi_file(text)) if os.path.isfile(text) else 0
    stats = DataStats(path, len(utt_ids), seconds, source, chars)
    if units_file and os.path.isfile(units_file):
        stats.units = sum(len(line.value.split()) if " " in line.value.strip() else len(line.value.strip())
                          for line in iter_kaldi_file(units_file) if line.key)
        stats.units_seconds = seconds
    return stats


@dataclass
class TextStats:
    """Sizes of one text-only data dir: bytes of each ``text.tc.<lang>`` (ids included), and its
    lines when they were counted (only the roles that count examples need them)."""

    path: str
    bytes: Dict[str, int]
    lines: Optional[int] = None

    @property
    def langs(self) -> List[str]:
        return sorted(self.bytes)


def text_dir_stats(path: str, count_lines: bool = False) -> TextStats:
    """File sizes per language of a text-only data dir (no file is read unless ``count_lines``:
    the lines of its first ``text.tc.<lang>``, which every aligned file shares)."""
    files = sorted(glob.glob(os.path.join(path, "text.tc.*")))
    sizes = {f.rsplit(".", 1)[1]: os.path.getsize(f) for f in files}
    lines = count_file_lines(files[0]) if count_lines and files else None
    return TextStats(path, sizes, lines)


def count_file_lines(path: str) -> int:
    """Lines of a file, read in 1 MiB blocks."""
    n = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            n += block.count(b"\n")
    return n


def lang_lines(path: str, langs: List[str]) -> Dict[str, int]:
    """Lines of ``text.tc.<lang>`` of a speech dir, for each of ``langs`` it has (its ST pairs)."""
    out = {}
    for lang in langs:
        f = os.path.join(path, f"text.tc.{lang}")
        if os.path.isfile(f):
            out[lang] = count_file_lines(f)
    return out


@dataclass(frozen=True)
class ModelShape:
    """Shapes of a Hugging Face model dir, from its headers only."""

    path: str
    model_type: str
    params: float
    weight_bytes: int
    layers: int
    hidden: int
    vocab: int
    source: str


def safetensors_header(path: str) -> Dict[str, dict]:
    """The JSON header of a safetensors file (8-byte little-endian length, then JSON): no tensors read."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(length))


def _config_params(cfg: dict) -> float:
    """Parameters of a Llama-style decoder from its config (when no safetensors are present):
    embeddings ``V x h`` (twice unless tied) + per layer ``2h^2 + 2 x h x kv x d + 3 x h x i + 2h`` + ``h``."""
    h, v, n = cfg["hidden_size"], cfg["vocab_size"], cfg["num_hidden_layers"]
    i = cfg.get("intermediate_size", 4 * h)
    heads = cfg.get("num_attention_heads", 1)
    d = cfg.get("head_dim", h // heads)
    kv = cfg.get("num_key_value_heads", heads)
    per_layer = 2 * h * heads * d + 2 * h * kv * d + 3 * h * i + 2 * h
    emb = v * h * (1 if cfg.get("tie_word_embeddings", False) else 2)
    return float(emb + n * per_layer + h)


def model_shape(path: str) -> ModelShape:
    """Parameters, weight dtype, layers, hidden size and vocabulary of a model dir.

    Parameters are summed from the safetensors headers when there are any, else computed from
    ``config.json``. Raises FileNotFoundError / ValueError with the reason otherwise.
    """
    cfg_path = os.path.join(path, "config.json")
    if not os.path.isfile(cfg_path):
        raise FileNotFoundError(f"model dir {path} has no config.json")
    with open(cfg_path, encoding="utf-8") as f:
        cfg = json.load(f)
    files = sorted(glob.glob(os.path.join(path, "*.safetensors")))
    if files:
        params, nbytes = 0.0, 0.0
        for name in files:
            for key, meta in safetensors_header(name).items():
                if key == "__metadata__":
                    continue
                count = 1
                for dim in meta["shape"]:
                    count *= dim
                params += count
                nbytes += count * DTYPE_BYTES.get(meta["dtype"], 4)
        weight_bytes, source = round(nbytes / params) if params else 2, "safetensors headers"
    else:
        params = _config_params(cfg)
        weight_bytes, source = DTYPE_BYTES.get(str(cfg.get("torch_dtype")), 4), "config.json"
    return ModelShape(path, str(cfg.get("model_type", "?")), params, weight_bytes,
                      int(cfg.get("num_hidden_layers", 0)), int(cfg.get("hidden_size", 0)),
                      int(cfg.get("vocab_size", 0)), source)


def ssl_facts(path: str) -> Tuple[int, int]:
    """``(num_hidden_layers, hidden_size)`` of an SSL model dir's ``config.json``."""
    cfg_path = os.path.join(path, "config.json")
    if not os.path.isfile(cfg_path):
        raise FileNotFoundError(f"SSL model dir {path} has no config.json")
    with open(cfg_path, encoding="utf-8") as f:
        cfg = json.load(f)
    return int(cfg["num_hidden_layers"]), int(cfg["hidden_size"])


@dataclass(frozen=True)
class TrainSetup:
    """What the plan needs from a training config (and its DeepSpeed JSON)."""

    path: str
    batch_size: Optional[int]
    batch_bins: Optional[int]
    max_len: int
    max_epoch: int
    iters_per_epoch: Optional[int]
    checkpointing: bool
    zero_stage: int          # -1: no DeepSpeed
    bf16: bool
    keep_checkpoints: int


def train_setup(path: str) -> TrainSetup:
    """Read a training YAML; ``deepspeed_config`` is resolved from the recipe dir (the cwd)."""
    with open(path, encoding="utf-8") as f:
        conf = yaml.safe_load(f) or {}
    zero, bf16 = -1, conf.get("torch_dtype") in ("bfloat16", "float16") or bool(conf.get("use_amp"))
    if conf.get("use_deepspeed"):
        ds_path = conf.get("deepspeed_config")
        if not ds_path or not os.path.isfile(ds_path):
            raise FileNotFoundError(f"{path}: deepspeed_config {ds_path} does not exist")
        with open(ds_path, encoding="utf-8") as f:
            ds = json.load(f)
        zero = int(ds.get("zero_optimization", {}).get("stage", 0))
        bf16 = bool(ds.get("bf16", {}).get("enabled")) or bool(ds.get("fp16", {}).get("enabled"))
    return TrainSetup(path, conf.get("batch_size"), conf.get("batch_bins"), int(conf.get("max_len", 4096)),
                      int(conf.get("max_epoch", 1)), conf.get("num_iters_per_epoch"),
                      bool(conf.get("gradient_checkpointing", False)), zero, bf16,
                      int(conf.get("deepspeed_keep_checkpoints", conf.get("keep_nbest_models", 1)) or 1))
