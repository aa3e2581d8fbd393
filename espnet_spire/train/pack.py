"""Stage 14: a trained model dir made publishable: units, configs, model card, tar.gz.

The HF dir ``<output_dir>/hf`` is written by the one exporter (:mod:`espnet_spire.train.export`:
weights, tokenizer, greedy generation config, ``spire.json``) and gets, so that it alone is
enough to turn new audio into units and prompt the model:

* ``kmeans/``: the k-means files that define the units (``centers.npy``, ``kmeans.joblib``,
  ``kmeans.json``; without them the model cannot be fed new audio); their facts join
  ``spire.json``, whose K must agree with them;
* ``conf/``: the recipe configs; ``README.md``: a model card that says how the units were made
  and under which licenses things stand.

The pack (``.tar.gz``) holds that dir, the card, ``RESULTS.md`` when present and
``export_info.json``. No file written holds an absolute path.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tarfile
import time
from typing import Dict, List, Optional, Sequence

from espnet_spire.common.fileio import write_json
from espnet_spire.common.hashing import sha256_file
from espnet_spire.train.export import export_model_dir, strip_paths

logger = logging.getLogger(__name__)


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


def usage_snippet(model_path: str = ".", audio: str = "speech.wav") -> str:
    """The model card's Python usage example: load this dir with :class:`espnet_spire.infer.SpireModel`
    and transcribe one audio file (a test executes it on a tiny exported model)."""
    path, wav = json.dumps(model_path), json.dumps(audio)
    return "\n".join([
        "from espnet_spire.infer import SpireModel",
        "",
        f"model = SpireModel.from_pretrained({path})  # this model dir",
        f"print(model.transcribe({wav}))",
        f'print(model.translate({wav}, tgt_lang="de"))',
    ])


def model_card(summary: Dict[str, object], facts: Optional[Dict], kmeans_lines: List[str],
               results: Optional[str], license_note: str, name: str) -> str:
    """Markdown model card (``facts``: the model's ``spire.json``)."""
    ti = facts or {}
    units = ti.get("num_units", "K")
    off = (ti.get("unit_ids") or {}).get("first", "?")
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
        "Feed new audio through the *same* k-means model (`kmeans/`, files below); another k-means model gives",
        "different units and the model will not understand them.",
        "",
        *(["k-means files:", "", *kmeans_lines, ""] if kmeans_lines else []),
        "## Usage",
        "",
        "With espnet_spire installed (`pip install -e .` in its checkout), from an audio file (any rate,",
        "channels, wav/flac/mp3/ogg) to text, with the units made as described above:",
        "",
        "```python",
        usage_snippet(),
        "```",
        "",
        "or from the shell: `spire-infer --model . --task asr speech.wav` (`--task st --tgt_lang de` for",
        "German; `spire-infer --help` lists the tasks and options).",
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


KMEANS_FILES = ("centers.npy", "kmeans.joblib", "kmeans.json", "kmeans_model")


def _copy_kmeans(path: str, dst: str) -> List[str]:
    """Copy a k-means dir's model files (or one model file) into ``dst``; returns the paths written."""
    os.makedirs(dst, exist_ok=True)
    names = [n for n in KMEANS_FILES if os.path.isfile(os.path.join(path, n))] if os.path.isdir(path) else []
    srcs = [os.path.join(path, n) for n in names] if os.path.isdir(path) else [path]
    out = []
    for src in srcs:
        shutil.copyfile(src, os.path.join(dst, os.path.basename(src)))
        out.append(os.path.join(dst, os.path.basename(src)))
    return out


def _copy_configs(configs: Sequence[str], dst: str) -> List[str]:
    out = []
    for p in configs:
        if not os.path.exists(p):
            logger.warning("config %s not found, not packed", p)
            continue
        os.makedirs(dst, exist_ok=True)
        target = os.path.join(dst, os.path.basename(os.path.normpath(p)))
        (shutil.copytree if os.path.isdir(p) else shutil.copyfile)(p, target)
        out.append(target)
    return out


def export_and_pack(model_dir: str, output_dir: str, tokenizer_dir: Optional[str] = None,
                    kmeans_files: Sequence[str] = (), configs: Sequence[str] = (), results: Optional[str] = None,
                    pack_path: Optional[str] = None, dtype: Optional[str] = None,
                    license_note: str = DEFAULT_LICENSE_NOTE, name: str = "espnet_spire model") -> Dict[str, object]:
    """Write the self-contained HF dir ``output_dir/hf`` plus README.md, and (optionally) a tar.gz of it.

    ``kmeans_files``: the k-means model(s) the units were made with (ours, a joblib file or a
    ``centers.npy``); the first one's K is checked against the model's ``spire.json``.
    """
    from espnet_spire.lm.facts import read_facts, write_facts
    from espnet_spire.units.kmeans import read_kmeans_facts

    hf_dir = os.path.join(output_dir, "hf")
    facts = read_facts(tokenizer_dir or model_dir) or {}
    extra = {}
    if kmeans_files:
        km = read_kmeans_facts(kmeans_files[0])
        k = facts.get("num_units")
        if k is not None and int(k) != int(km["num_units"]):
            raise ValueError(f"the model {model_dir} has {k} unit tokens but the k-means model {kmeans_files[0]} "
                             f"has K={km['num_units']}: export the k-means model its units were made with")
        extra["kmeans"] = km
    record = export_model_dir(hf_dir, model_dir, tokenizer_dir=tokenizer_dir, dtype=dtype, facts=extra)
    written = []
    for path in kmeans_files:
        written += _copy_kmeans(path, os.path.join(hf_dir, "kmeans"))
    written += _copy_configs(configs, os.path.join(hf_dir, "conf"))
    if written:
        record["files"] = sorted(os.path.relpath(p, hf_dir) for p in written)
        write_facts(hf_dir, record)
    summary = {"embedding_rows": record.get("embedding_rows"), "tokenizer_length": record.get("tokenizer_length")}
    results_text = open(results, encoding="utf-8").read() if results and os.path.isfile(results) else None
    card = model_card(summary, record, _units_description([os.path.join(hf_dir, "kmeans")] if kmeans_files else []),
                      results_text, license_note, name)
    for d in (hf_dir, output_dir):
        with open(os.path.join(d, "README.md"), "w", encoding="utf-8") as f:
            f.write(card)
    info = strip_paths({"created": time.strftime("%Y-%m-%dT%H:%M:%S"), "model_dir": os.path.abspath(model_dir),
                        "tokenizer_dir": os.path.abspath(tokenizer_dir) if tokenizer_dir else None,
                        "kmeans_files": [os.path.abspath(p) for p in kmeans_files],
                        "configs": [os.path.abspath(p) for p in configs],
                        "results": os.path.abspath(results) if results_text else None, **summary})
    write_json(os.path.join(output_dir, "export_info.json"), info, sort_keys=False, ensure_ascii=True)
    if pack_path:
        os.makedirs(os.path.dirname(os.path.abspath(pack_path)), exist_ok=True)
        with tarfile.open(pack_path, "w:gz") as tar:
            tar.add(hf_dir, arcname="hf")
            tar.add(os.path.join(output_dir, "README.md"), arcname="README.md")
            tar.add(os.path.join(output_dir, "export_info.json"), arcname="export_info.json")
            if results_text:
                tar.add(results, arcname="RESULTS.md")
        logger.info("packed %s", pack_path)
    return record
