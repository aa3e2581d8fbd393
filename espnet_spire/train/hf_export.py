"""ESPnet checkpoint -> Hugging Face model directory.

The ESPnet model (:class:`espnet_spire.lm.espnet_model.SpireLMModel`) keeps the causal LM under
the attribute ``lm``, so its state dict keys are ``lm.<HF key>``.  Export = strip that prefix,
load the weights into a model built from the *input* model directory's ``config.json`` and
``save_pretrained`` it, then copy the tokenizer files (and any other non-weight file, such as
``spire_tokenizer.json``) from the input directory, so the next stage can
``from_pretrained(<export dir>)`` directly.

Accepted checkpoints: an epoch/averaged state dict (``3epoch.pth``, ``latest.pth``,
``valid.loss.best.pth``, ``valid.loss.ave.pth``), ESPnet's ``checkpoint.pth`` (key ``model``), a
DeepSpeed ``mp_rank_00_model_states.pt`` (key ``module``; ZeRO-0 only), or a DeepSpeed checkpoint
directory (``checkpoint_<N>``; consolidated with DeepSpeed's ``zero_to_fp32``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Dict, Optional, Union

import torch

PREFIX = "lm."
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".msgpack", ".h5", ".gguf", ".ckpt")
NOT_COPIED = {"config.json", "generation_config.json"}
EXPORT_INFO = "spire_export.json"


def _torch_load(path: Path):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # ESPnet's checkpoint.pth also holds the reporter state
        return torch.load(path, map_location="cpu", weights_only=False)


def load_state_dict(checkpoint: Union[str, Path]) -> Dict[str, torch.Tensor]:
    """The model state dict (``lm.*`` keys) stored in any supported checkpoint."""
    checkpoint = Path(checkpoint)
    if checkpoint.is_dir():
        from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint

        tag = None
        if not (checkpoint / "latest").exists():
            tags = sorted(
                (p.name for p in checkpoint.iterdir() if p.is_dir()),
                key=lambda s: (not s.isdigit(), int(s) if s.isdigit() else 0, s),
            )
            if not tags:
                raise FileNotFoundError(f"no DeepSpeed checkpoint in {checkpoint}")
            tag = tags[-1]
        return get_fp32_state_dict_from_zero_checkpoint(str(checkpoint), tag=tag)
    obj = _torch_load(checkpoint.resolve())
    if isinstance(obj, dict) and "model" in obj and "reporter" in obj:
        obj = obj["model"]
    elif isinstance(obj, dict) and "module" in obj and isinstance(obj["module"], dict):
        obj = obj["module"]
    if not isinstance(obj, dict):
        raise ValueError(f"{checkpoint}: not a state dict")
    return obj


def to_hf_state_dict(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Strip the ``lm.`` (and a DDP/DeepSpeed ``module.``) prefix."""
    out = {}
    for k, v in state.items():
        if k.startswith("module."):
            k = k[len("module."):]
        if not k.startswith(PREFIX):
            raise KeyError(f"unexpected key {k!r}: not a SpireLMModel state dict")
        out[k[len(PREFIX):]] = v
    return out


def _resolve_dtype(dtype: Optional[str], config) -> torch.dtype:
    if dtype in (None, "auto"):
        name = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
        if isinstance(name, torch.dtype):
            return name
        if isinstance(name, str) and hasattr(torch, name):
            return getattr(torch, name)
        return torch.float32
    return getattr(torch, dtype)


def copy_side_files(src_dir: Union[str, Path], dst_dir: Union[str, Path]) -> list:
    """Copy tokenizer and other non-weight files that ``save_pretrained`` did not write."""
    copied = []
    for f in sorted(Path(src_dir).iterdir()):
        if not f.is_file() or f.name in NOT_COPIED or f.name.endswith(WEIGHT_SUFFIXES):
            continue
        if f.name.endswith(".index.json") or f.name == EXPORT_INFO:
            continue
        dst = Path(dst_dir) / f.name
        if dst.exists():
            continue
        shutil.copy2(f, dst)
        copied.append(f.name)
    return copied


def export_hf(
    checkpoint: Union[str, Path],
    model_dir: Union[str, Path],
    output_dir: Union[str, Path],
    dtype: Optional[str] = "auto",
) -> Path:
    """Write ``output_dir`` = HF model (weights of ``checkpoint``) + the input dir's tokenizer.

    Args:
        checkpoint: an ESPnet / DeepSpeed checkpoint (see the module docstring).
        model_dir: the HF directory training started from (config and tokenizer source).
        output_dir: the directory to write (replaced if it exists).
        dtype: ``auto`` (the input model's dtype), ``float32``, ``bfloat16`` or ``float16``.
    """
    from transformers import AutoConfig, AutoModelForCausalLM

    model_dir, output_dir = Path(model_dir), Path(output_dir)
    state = to_hf_state_dict(load_state_dict(checkpoint))
    config = AutoConfig.from_pretrained(model_dir, local_files_only=True)
    torch_dtype = _resolve_dtype(dtype, config)

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    state = {k: v.to(torch_dtype) if v.is_floating_point() else v for k, v in state.items()}
    missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    tied = set()
    if getattr(config, "tie_word_embeddings", False):
        model.tie_weights()
        tied = {"lm_head.weight"}
    missing = [k for k in missing if k not in tied]
    if missing or unexpected:
        raise RuntimeError(f"state dict mismatch: missing={missing} unexpected={unexpected}")
    still_meta = [n for n, p in model.state_dict().items() if p.is_meta]
    if still_meta:
        raise RuntimeError(f"parameters without values after loading: {still_meta[:5]}")

    tmp = output_dir.with_name(output_dir.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    model.config.dtype = torch_dtype
    model.save_pretrained(tmp)
    gen = model_dir / "generation_config.json"
    if gen.exists() and not (tmp / gen.name).exists():
        shutil.copy2(gen, tmp / gen.name)
    copied = copy_side_files(model_dir, tmp)
    info = dict(
        source_checkpoint=str(Path(checkpoint).resolve()),
        source_model_dir=str(model_dir.resolve()),
        dtype=str(torch_dtype).replace("torch.", ""),
        copied_files=copied,
    )
    with open(tmp / EXPORT_INFO, "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2)
    if output_dir.exists():
        shutil.rmtree(output_dir)
    os.replace(tmp, output_dir)
    logging.info(f"Exported {checkpoint} -> {output_dir} ({info['dtype']})")
    return output_dir


def resolve_checkpoint(exp_dir: Union[str, Path], name: str) -> Path:
    """``name`` (``latest``, ``valid.loss.best``, ``valid.loss.ave``, ``3epoch`` or a path)."""
    exp_dir = Path(exp_dir)
    for cand in (Path(name), exp_dir / name, exp_dir / f"{name}.pth"):
        if cand.exists():
            return cand
    fallback = exp_dir / "latest.pth"
    if fallback.exists():
        logging.warning(f"{name} not found in {exp_dir}; exporting latest.pth instead")
        return fallback
    raise FileNotFoundError(f"no checkpoint {name!r} in {exp_dir}")
