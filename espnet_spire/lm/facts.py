"""``spire.json``: the facts a tokenizer or model dir carries about itself.

Every later stage (and a user) should need only the dir: K, the unit format and id range, the
specials, whether there is a chat template, the base model, the k-means model, the prompt style
a model was trained with and where it came from. The record never holds an absolute path
(artifacts get copied, packed and uploaded); models are named by directory name and content hash.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from typing import Dict, List, Optional, Tuple

from espnet_spire.common.fileio import write_json

logger = logging.getLogger(__name__)

FACTS_FILE = "spire.json"
FACTS_VERSION = 1
# Files that make a Hugging Face tokenizer (plus our own records); weights are never among them.
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "tokenizer.model",
    "special_tokens_map.json",
    "added_tokens.json",
    "chat_template.jinja",
    "chat_template.json",
    "spire_tokenizer.json",
    FACTS_FILE,
)


def read_facts(directory: str) -> Optional[Dict[str, object]]:
    """The ``spire.json`` of a dir, or None when it has none (e.g. a plain base LLM)."""
    path = os.path.join(directory, FACTS_FILE)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_facts(directory: str, facts: Dict[str, object]) -> str:
    """Write ``directory/spire.json`` (sorted keys, so equal facts give equal bytes)."""
    path = os.path.join(directory, FACTS_FILE)
    write_json(path, facts)
    return path


# Dir names the recipe reuses under every model or tokenizer dir: named with their parent.
GENERIC_DIR_NAMES = ("hf_model", "hf", "init", "base", "instruct", "train", "valid", "tokenizer")


def dir_name(path: Optional[str]) -> Optional[str]:
    """How artifacts name each other without absolute paths: the last component of ``path``, with
    its parent when the last one is generic (``spirebase/hf_model``, ``tokenizer/instruct``)."""
    if not path:
        return None
    path = os.path.abspath(path)
    parent, name = os.path.split(path)
    if name in GENERIC_DIR_NAMES and os.path.basename(parent):
        return f"{os.path.basename(parent)}/{name}"
    return name


def copy_tokenizer_files(src: str, dst: str) -> List[str]:
    """Copy the tokenizer files of ``src`` (a tokenizer or model dir) into ``dst``; returns their names."""
    os.makedirs(dst, exist_ok=True)
    copied = []
    for name in TOKENIZER_FILES:
        path = os.path.join(src, name)
        if os.path.isfile(path):
            shutil.copyfile(path, os.path.join(dst, name))
            copied.append(name)
    if not copied:
        raise FileNotFoundError(f"{src}: no tokenizer files ({', '.join(TOKENIZER_FILES[:3])}, ...)")
    return copied


def resolve_num_units(num_units: Optional[int], kmeans: Optional[str],
                      trust_pickle: bool = False) -> Tuple[int, Optional[Dict[str, object]]]:
    """K from the k-means model when given (``num_units`` is then only a check), else ``num_units``.

    Returns ``(K, k-means facts or None)``; a mismatch raises ValueError naming both values.
    """
    if kmeans is None:
        if num_units is None:
            raise ValueError("give --kmeans (the k-means model, whose K is used) or --num_units")
        return int(num_units), None
    from espnet_spire.units.kmeans import read_kmeans_facts

    facts = read_kmeans_facts(kmeans, trust_pickle)
    k = int(facts["num_units"])
    if num_units is not None and int(num_units) != k:
        raise ValueError(f"--num_units {num_units} does not match the k-means model {kmeans}, which has "
                         f"K={k} clusters: use the k-means model the units were labelled with, or fix --num_units")
    return k, facts
