"""Tokenizer dirs that load the same way in transformers 4.57 (SpireLM's pin) and 5.x (ours).

transformers 5's ``save_pretrained`` writes a ``tokenizer_config.json`` that 4.x cannot read or
reads differently:

* ``extra_special_tokens`` as a list: 4.57 expects a dict of *named* extra specials and fails
  with ``AttributeError: 'list' object has no attribute 'keys'``. The list is the
  ``additional_special_tokens`` of both versions (5.x reads that key too), so it is written under
  that name;
* no ``add_bos_token``: 4.x's Llama tokenizers then add ``<s>`` to every ``tok(text)`` and 5.x
  does not. It is written as ``false`` (and ``add_eos_token`` as ``false``), 5.x's behaviour, so
  that ids stay what 5.x gave: callers add ``<s>`` themselves, as our decoder and the model card's
  snippet do (``[tok.bos_token_id] + tok(prompt, add_special_tokens=False).input_ids``);
* no ``legacy``: 4.x's sentencepiece ("slow") Llama tokenizer then defaults to the legacy mode,
  which puts a "▁" after special tokens (``<|im_start|>▁user``) where the ``tokenizer.json`` path
  of both versions does not. ``legacy: false`` makes all three paths agree;
* ``tokenizer_class: TokenizersBackend`` (5.x's generic class, which 4.x does not know) is
  written as ``PreTrainedTokenizerFast``, its name in 4.x and an alias of it in 5.x;
* the loading arguments ``is_local`` and ``local_files_only`` are dropped (they describe how the
  source was loaded, not the tokenizer).

Ids of the ``tokenizer.json`` path do not change (it is the same file in both versions); only
these settings do. ``tests/test_tokenizer_compat.py`` loads every dir the recipe writes in a
transformers 4.57 environment and compares ids with 5.x.
"""

from __future__ import annotations

import os
from typing import Any, Dict

from espnet_spire.common.fileio import read_json, write_json

CONFIG_FILE = "tokenizer_config.json"
DROPPED_KEYS = ("is_local", "local_files_only")
# 5.x class names that 4.x does not know -> the name both know
CLASS_ALIASES = {"TokenizersBackend": "PreTrainedTokenizerFast"}
SPM_CLASSES = ("LlamaTokenizer", "LlamaTokenizerFast", "CodeLlamaTokenizer", "CodeLlamaTokenizerFast")


def portable_config(config: Dict[str, Any]) -> Dict[str, Any]:
    """``config`` (a ``tokenizer_config.json``) rewritten to load alike in transformers 4.57 and 5.x."""
    out = {k: v for k, v in config.items() if k not in DROPPED_KEYS}
    if out.get("tokenizer_class") in CLASS_ALIASES:
        out["tokenizer_class"] = CLASS_ALIASES[out["tokenizer_class"]]
    extra = out.get("extra_special_tokens")
    if isinstance(extra, list):
        del out["extra_special_tokens"]
        merged = [str(t) for t in out.get("additional_special_tokens") or []]
        merged += [str(t) for t in extra if str(t) not in merged]
        out["additional_special_tokens"] = merged
    if out.get("tokenizer_class") in SPM_CLASSES:
        out.setdefault("add_bos_token", False)
        out.setdefault("add_eos_token", False)
        out["legacy"] = False
    return out


def make_portable(directory: str) -> bool:
    """Rewrite ``directory/tokenizer_config.json`` in place with :func:`portable_config`; True if changed."""
    path = os.path.join(directory, CONFIG_FILE)
    if not os.path.isfile(path):
        return False
    config = read_json(path)
    new = portable_config(config)
    if new == config:
        return False
    write_json(path, new)
    return True


def save_tokenizer(tok, directory: str) -> None:
    """``tok.save_pretrained(directory)`` followed by :func:`make_portable`: the one tokenizer writer."""
    tok.save_pretrained(directory)
    make_portable(directory)
