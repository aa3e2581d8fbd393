"""The one exporter: a trained model becomes a self-contained Hugging Face model dir.

Used by the trainer at the end of training (``exp/<tag>/hf_model``) and by stage 14
(``exp/<tag>/export/``, through :mod:`espnet_spire.train.pack`). The dir it writes needs no
other artifact to be loaded, prompted or decoded:

* the weights (``save_pretrained``), from an ESPnet/DeepSpeed checkpoint or from an HF dir;
* the tokenizer the model's TRAINING DATA was built with (the data builders copy it into the
  split dir, :mod:`espnet_spire.lm.token_data`): for IT models the instruct tokenizer with
  ``<|im_end|>`` and the chat template, not the base tokenizer of the init dir;
* a ``tokenizer_config.json`` that transformers 4.57 loads too (:mod:`espnet_spire.lm.tokenizer_compat`);
* a greedy ``generation_config.json`` (256 new tokens, every eos id: ``<|im_end|>`` and ``</s>``);
  SpireFull's released config samples, so a plain ``generate()`` would not reproduce SPIRE;
* ``spire.json`` (:mod:`espnet_spire.lm.facts`): K, unit format, base model, prompt style (``cpt``
  for CPT models, the IT style for IT ones) and provenance (checkpoint, init, config, data).

Checkpoints (the ESPnet model keeps the LM under ``lm.``, so keys are ``lm.<HF key>``): an
epoch/averaged state dict (``3epoch.pth``, ``valid.loss.best.pth``), a checkpoint dict with key
``model`` or ``module`` (DeepSpeed's ``mp_rank_00_model_states.pt``) or a DeepSpeed checkpoint dir
(consolidated with DeepSpeed's ``zero_to_fp32``). Files are read with
``torch.load(weights_only=True)`` and nothing else: a checkpoint that needs general unpickling
(ESPnet's ``checkpoint.pth`` with its reporter state) is refused with a message saying which
file to export instead. No file written holds an absolute path.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import shutil
from pathlib import Path
from typing import Dict, List, Optional, Union

import torch

from espnet_spire.lm.facts import (
    FACTS_FILE,
    FACTS_VERSION,
    TOKENIZER_FILES,
    copy_tokenizer_files,
    dir_name,
    read_facts,
    write_facts,
)
from espnet_spire.lm.tokenizer_compat import make_portable

logger = logging.getLogger(__name__)

PREFIX = "lm."
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".msgpack", ".h5", ".gguf", ".ckpt")
NOT_COPIED = {"config.json", "generation_config.json", FACTS_FILE}
LOADABLE_TOKENIZER = ("tokenizer.json", "tokenizer.model")
# Our JSON records that may name input dirs by absolute path (rewritten with dir names on export).
PATH_RECORDS = ("spire_tokenizer.json", "extension.json")


# ------------------------------------------------------------------ checkpoints


def _torch_load(path: Path):
    """``torch.load`` of tensors and plain containers only: unpickling anything else could run code."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ValueError(
            f"{path} holds pickled Python objects besides tensors, which torch.load(weights_only=True) refuses "
            "(loading them could run code from the file; ESPnet's checkpoint.pth holds its reporter state): "
            "export an epoch checkpoint instead (latest.pth, <N>epoch.pth, valid.loss.best.pth), which holds "
            f"weights only. torch said: {str(exc).splitlines()[-1][:300]}") from exc


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
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict):
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


def resolve_checkpoint(exp_dir: Union[str, Path], name: str) -> Path:
    """``name`` (``latest``, ``valid.loss.best``, ``valid.loss.ave``, ``3epoch`` or a path)."""
    exp_dir = Path(exp_dir)
    for cand in (Path(name), exp_dir / name, exp_dir / f"{name}.pth"):
        if cand.exists():
            return cand
    fallback = exp_dir / "latest.pth"
    if fallback.exists():
        logger.warning("%s not found in %s; exporting latest.pth instead", name, exp_dir)
        return fallback
    raise FileNotFoundError(f"no checkpoint {name!r} in {exp_dir}")


def _resolve_dtype(dtype: Optional[str], config) -> torch.dtype:
    if dtype in (None, "auto"):
        name = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
        if isinstance(name, torch.dtype):
            return name
        if isinstance(name, str) and hasattr(torch, name):
            return getattr(torch, name)
        return torch.float32
    return getattr(torch, dtype)


def _model_from_checkpoint(checkpoint: Union[str, Path], model_dir: str, dtype: Optional[str]):
    """The HF causal LM of ``model_dir``'s config with the weights of ``checkpoint``."""
    from transformers import AutoConfig, AutoModelForCausalLM

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
    model.config.dtype = torch_dtype
    return model


def _model_from_dir(model_dir: str, dtype: Optional[str]):
    from transformers import AutoModelForCausalLM

    kwargs = {"dtype": getattr(torch, dtype)} if dtype not in (None, "auto") else {}
    return AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True, **kwargs)


# ------------------------------------------------------------------ the HF dir


def greedy_generation_config(tokenizer, max_new_tokens: int = 256):
    """``GenerationConfig`` for SPIRE decoding: greedy, bounded, all eos ids (im_end and </s>)."""
    from transformers import GenerationConfig

    eos = [tokenizer.eos_token_id]
    vocab = tokenizer.get_vocab()
    for extra in ("<|im_end|>", "</s>"):
        if extra in vocab and vocab[extra] not in eos:
            eos.append(vocab[extra])
    return GenerationConfig(
        do_sample=False,
        num_beams=1,
        max_new_tokens=max_new_tokens,
        eos_token_id=eos if len(eos) > 1 else eos[0],
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )


def strip_paths(obj):
    """``obj`` with every absolute path string replaced by its last component (records stay portable)."""
    if isinstance(obj, dict):
        return {k: strip_paths(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [strip_paths(v) for v in obj]
    if isinstance(obj, str) and os.path.isabs(obj):
        return dir_name(obj)
    return obj


def _copy_side_files(src_dir: str, dst_dir: Path, skip: tuple = ()) -> List[str]:
    """Copy the non-weight files ``save_pretrained`` did not write (tokenizer, records, README)."""
    copied = []
    for f in sorted(Path(src_dir).iterdir()):
        if not f.is_file() or f.name in NOT_COPIED or f.name in skip or f.name.endswith(WEIGHT_SUFFIXES):
            continue
        if f.name.endswith(".index.json") or (dst_dir / f.name).exists():
            continue
        shutil.copy2(f, dst_dir / f.name)
        copied.append(f.name)
    return copied


def _strip_record_paths(directory: Path) -> None:
    """Rewrite our JSON records in ``directory`` without absolute paths (stage 6 records its inputs)."""
    for name in PATH_RECORDS:
        path = directory / name
        if not path.is_file():
            continue
        with open(path, encoding="utf-8") as fh:
            obj = json.load(fh)
        if strip_paths(obj) != obj:
            with open(path, "w", encoding="utf-8") as fh:
                json.dump(strip_paths(obj), fh, indent=2, ensure_ascii=False)
                fh.write("\n")


def export_model_dir(
    output_dir: Union[str, Path],
    model_dir: str,
    checkpoint: Optional[Union[str, Path]] = None,
    tokenizer_dir: Optional[str] = None,
    dtype: Optional[str] = None,
    facts: Optional[Dict[str, object]] = None,
    max_new_tokens: int = 256,
) -> Dict[str, object]:
    """Write ``output_dir`` (replaced atomically): a self-contained HF model dir; returns its ``spire.json``.

    Args:
        output_dir: the dir to write.
        model_dir: the HF dir of the weights (no ``checkpoint``) or of the config training started from.
        checkpoint: an ESPnet/DeepSpeed checkpoint whose weights to export (see the module doc).
        tokenizer_dir: the tokenizer to ship (default: ``model_dir``'s own files).
        dtype: ``auto``/None (keep), ``float32``, ``bfloat16`` or ``float16``.
        facts: entries merged into ``spire.json`` (prompt style, provenance, k-means facts).
    """
    from transformers import AutoTokenizer

    output_dir = Path(output_dir)
    tok_dir = tokenizer_dir or model_dir
    model = _model_from_checkpoint(checkpoint, model_dir, dtype) if checkpoint else _model_from_dir(model_dir, dtype)
    rows = model.get_input_embeddings().weight.shape[0]
    tok = None
    if any(os.path.isfile(os.path.join(tok_dir, n)) for n in LOADABLE_TOKENIZER):
        tok = AutoTokenizer.from_pretrained(tok_dir, local_files_only=True)
        if rows < len(tok):
            raise ValueError(f"{model_dir} has {rows} embedding rows but the tokenizer {tok_dir} has "
                             f"{len(tok)} tokens: the model was not trained with this tokenizer")
        model.config.eos_token_id = tok.eos_token_id
        model.config.pad_token_id = tok.pad_token_id
        model.config.bos_token_id = tok.bos_token_id
        model.generation_config = greedy_generation_config(tok, max_new_tokens)

    tmp = output_dir.with_name(output_dir.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp)
    if tok is None and os.path.isfile(os.path.join(model_dir, "generation_config.json")) \
            and not (tmp / "generation_config.json").exists():
        shutil.copy2(os.path.join(model_dir, "generation_config.json"), tmp / "generation_config.json")
    if tokenizer_dir:
        copy_tokenizer_files(tokenizer_dir, tmp)
    _copy_side_files(model_dir, tmp, skip=TOKENIZER_FILES if tokenizer_dir else ())
    make_portable(str(tmp))  # also for tokenizers written before the dirs were made portable
    _strip_record_paths(tmp)

    record = dict(read_facts(model_dir) or {})
    record.update({k: v for k, v in (read_facts(tok_dir) or {}).items() if k not in ("kind", "base")})
    record.update(facts or {})
    record.update(version=FACTS_VERSION, kind="model",
                  dtype=str(next(model.parameters()).dtype).replace("torch.", ""),
                  embedding_rows=int(rows), tokenizer_length=None if tok is None else len(tok),
                  chat_template=None if tok is None else getattr(tok, "chat_template", None) is not None)
    record = strip_paths(record)
    write_facts(tmp, record)
    if output_dir.exists():
        shutil.rmtree(output_dir)
    os.replace(tmp, output_dir)
    logger.info("exported %s -> %s (%s, prompt style %s)", checkpoint or model_dir, output_dir, record["dtype"],
                record.get("prompt_style"))
    return record


def _training_data_dir(config: Dict[str, object]) -> Optional[str]:
    """The train split dir of an ESPnet ``config.yaml`` (where the data builders recorded the tokenizer)."""
    for path, _name, _type in config.get("train_data_path_and_name_and_type") or []:
        return os.path.dirname(path)
    return None


def export_training_result(exp_dir: Union[str, Path], model_dir: str, checkpoint_name: str = "latest",
                           output_dir: Optional[Union[str, Path]] = None, dtype: Optional[str] = "auto") -> Path:
    """Export a checkpoint of ``exp_dir`` with the tokenizer and prompt style of its training data.

    ``model_dir`` is the dir training started from (config and, when the data recorded no
    tokenizer, the tokenizer). The data dir and training config come from ``exp_dir/config.yaml``.
    """
    import yaml

    from espnet_spire.lm.token_data import read_split_facts

    exp_dir = Path(exp_dir)
    ckpt = resolve_checkpoint(exp_dir, checkpoint_name)
    out = Path(output_dir) if output_dir else exp_dir / "hf_model"
    config = {}
    if (exp_dir / "config.yaml").is_file():
        with open(exp_dir / "config.yaml", encoding="utf-8") as f:
            config = yaml.safe_load(f) or {}
    data_dir = _training_data_dir(config)
    data = read_split_facts(data_dir) if data_dir else None
    provenance = {"checkpoint": ckpt.resolve().name, "exp": dir_name(str(exp_dir)), "init": dir_name(model_dir),
                  "config": dir_name(config.get("config"))}
    facts = {"provenance": provenance}
    if data:
        provenance["data"] = {k: data.get(k) for k in ("stage", "mixture", "loss_on_units") if k in data}
        provenance["data"]["dir"] = dir_name(os.path.dirname(data_dir))
        facts["prompt_style"] = data.get("prompt_style")
    else:
        logger.warning("%s records no tokenizer (made before data dirs carried one): exporting the tokenizer "
                       "files of %s", data_dir, model_dir)
    export_model_dir(out, model_dir, checkpoint=ckpt, tokenizer_dir=data["tokenizer"] if data else None,
                     dtype=dtype, facts=facts)
    return out
