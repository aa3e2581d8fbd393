"""Stage 14: export a trained SPIRE model as a Hugging Face model dir, and pack the recipe outputs.

The HF dir is written with ``save_pretrained`` (config, safetensors, tokenizer files with the chat
template, ``spire_tokenizer.json``) plus a *greedy* ``generation_config.json`` (``do_sample``
false, 256 new tokens, the eos ids): SpireFull's released config sets ``do_sample: true``, so a
plain ``generate()`` would sample. ``AutoModelForCausalLM``/``AutoTokenizer`` load it offline.

The pack (``.tar.gz``) holds the HF dir, the k-means files that define the units (without them
the model cannot be fed new audio), the recipe configs, ``RESULTS.md`` when present and a model
card ``README.md`` that says how the units were made and under which licenses things stand.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tarfile
import time
from typing import Dict, List, Optional, Sequence

from espnet_spire.common.hashing import sha256_file

logger = logging.getLogger(__name__)


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


def export_hf(model_dir: str, output_dir: str, tokenizer_dir: Optional[str] = None, dtype: Optional[str] = None,
              max_new_tokens: int = 256) -> Dict[str, object]:
    """Re-save a local checkpoint as a self-contained HF model dir; returns a summary."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok_dir = tokenizer_dir or model_dir
    tok = AutoTokenizer.from_pretrained(tok_dir, local_files_only=True)
    kwargs = {"dtype": getattr(torch, dtype)} if dtype else {}
    model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True, **kwargs)
    rows = model.get_input_embeddings().weight.shape[0]
    if rows < len(tok):
        raise ValueError(f"model has {rows} embedding rows, tokenizer {len(tok)} tokens")
    model.config.eos_token_id = tok.eos_token_id
    model.config.pad_token_id = tok.pad_token_id
    model.config.bos_token_id = tok.bos_token_id
    model.generation_config = greedy_generation_config(tok, max_new_tokens)
    os.makedirs(output_dir, exist_ok=True)
    model.save_pretrained(output_dir)
    tok.save_pretrained(output_dir)
    for name in ("spire_tokenizer.json", "extension.json", "tokenizer.model"):
        for d in (tok_dir, model_dir):
            src = os.path.join(d, name)
            if os.path.isfile(src) and not os.path.isfile(os.path.join(output_dir, name)):
                shutil.copyfile(src, os.path.join(output_dir, name))
    return {"model_dir": os.path.abspath(model_dir), "tokenizer_dir": os.path.abspath(tok_dir),
            "embedding_rows": rows, "tokenizer_length": len(tok), "eos_token_id": tok.eos_token_id,
            "chat_template": getattr(tok, "chat_template", None) is not None,
            "dtype": str(next(model.parameters()).dtype).replace("torch.", "")}


def _units_description(kmeans_files: Sequence[str]) -> List[str]:
    """Lines for the model card from the k-means files and any JSON provenance among them."""
    lines = []
    for path in kmeans_files:
        if os.path.isdir(path):
            for name in sorted(os.listdir(path)):
                p = os.path.join(path, name)
                if os.path.isfile(p):
                    lines.append(f"- `{name}` sha256 `{sha256_file(p)}`")
        elif os.path.isfile(path):
            lines.append(f"- `{os.path.basename(path)}` sha256 `{sha256_file(path)}`")
    return lines


def model_card(summary: Dict[str, object], tokenizer_info: Optional[Dict], kmeans_lines: List[str],
               results: Optional[str], license_note: str, name: str) -> str:
    """Markdown model card."""
    ti = tokenizer_info or {}
    units = ti.get("num_units", "K")
    off = ti.get("unit_offset", "?")
    parts = [
        f"# {name}",
        "",
        "A speech + text language model trained with the espnet_spire recipe (SPIRE: speech as discrete",
        "units inside a text LLM). Speech is given to the model as discrete speech units (DSUs), one",
        "token per unit.",
        "",
        "## How the units are made",
        "",
        "1. 16 kHz mono audio -> HuBERT features of one transformer layer (SPIRE: hubert-large-ll60k,",
        "   layer 22, without the final layer norm, input normalised per utterance).",
        f"2. Nearest k-means centroid per 20 ms frame (K = {units}), squared Euclidean distance.",
        "3. Consecutive repeats collapsed (deduplication).",
        f"4. Unit i written as the private-use character U+{0xF0000:X}+i and encoded as token id {off}+i.",
        "",
        "Feed new audio through the *same* k-means model (files below); another k-means model gives",
        "different units and the model will not understand them.",
        "",
        *(["k-means files:", "", *kmeans_lines, ""] if kmeans_lines else []),
        "## Usage",
        "",
        "```python",
        "from transformers import AutoModelForCausalLM, AutoTokenizer",
        "tok = AutoTokenizer.from_pretrained(path)",
        "model = AutoModelForCausalLM.from_pretrained(path)",
        'msgs = [{"role": "user", "content": "Speech: " + units + "\\nEnglish:"}]',
        "prompt = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)",
        "ids = tok(prompt, add_special_tokens=False).input_ids",
        "out = model.generate(torch.tensor([[tok.bos_token_id] + ids]))  # greedy by default",
        "```",
        "",
        "Decoding as evaluated: greedy, at most 256 new tokens, stop at the first newline. The",
        f"embedding matrix has {summary.get('embedding_rows')} rows for {summary.get('tokenizer_length')} real",
        "tokens; the extra rows are padding and must never be sampled.",
        "",
        "## License",
        "",
        license_note,
        "",
    ]
    if results:
        parts += ["## Results", "", results.strip(), ""]
    return "\n".join(parts)


DEFAULT_LICENSE_NOTE = (
    "The weights derive from the base model given to the recipe and inherit its license (for "
    "TowerBase-7B: CC BY-NC 4.0 and the Llama 2 Community License; the released SPIRE models are "
    "CC BY-NC 4.0). The espnet_spire code is Apache-2.0. Check the licenses of every training "
    "corpus before redistributing."
)


def export_and_pack(model_dir: str, output_dir: str, tokenizer_dir: Optional[str] = None,
                    kmeans_files: Sequence[str] = (), configs: Sequence[str] = (), results: Optional[str] = None,
                    pack_path: Optional[str] = None, dtype: Optional[str] = None,
                    license_note: str = DEFAULT_LICENSE_NOTE, name: str = "espnet_spire model") -> Dict[str, object]:
    """Write the HF dir to ``output_dir/hf`` plus README.md, and (optionally) a tar.gz of everything."""
    hf_dir = os.path.join(output_dir, "hf")
    summary = export_hf(model_dir, hf_dir, tokenizer_dir, dtype)
    info_path = os.path.join(hf_dir, "spire_tokenizer.json")
    tokenizer_info = json.load(open(info_path, encoding="utf-8")) if os.path.isfile(info_path) else None
    results_text = open(results, encoding="utf-8").read() if results and os.path.isfile(results) else None
    card = model_card(summary, tokenizer_info, _units_description(kmeans_files), results_text, license_note, name)
    for d in (hf_dir, output_dir):
        with open(os.path.join(d, "README.md"), "w", encoding="utf-8") as f:
            f.write(card)
    summary.update({"created": time.strftime("%Y-%m-%dT%H:%M:%S"), "kmeans_files": list(kmeans_files),
                    "configs": list(configs), "results": results if results_text else None})
    with open(os.path.join(output_dir, "export_info.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    if pack_path:
        os.makedirs(os.path.dirname(os.path.abspath(pack_path)), exist_ok=True)
        with tarfile.open(pack_path, "w:gz") as tar:
            tar.add(hf_dir, arcname="hf")
            tar.add(os.path.join(output_dir, "README.md"), arcname="README.md")
            tar.add(os.path.join(output_dir, "export_info.json"), arcname="export_info.json")
            for p in kmeans_files:
                if os.path.exists(p):
                    tar.add(p, arcname=os.path.join("kmeans", os.path.basename(os.path.normpath(p))))
                else:
                    logger.warning("k-means path %s not found, not packed", p)
            for p in configs:
                if os.path.exists(p):
                    tar.add(p, arcname=os.path.join("conf", os.path.basename(os.path.normpath(p))))
            if results_text:
                tar.add(results, arcname="RESULTS.md")
        summary["pack"] = os.path.abspath(pack_path)
        logger.info("packed %s", pack_path)
    return summary
