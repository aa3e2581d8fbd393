#!/usr/bin/env python3
"""Stage 10: build one IT split from a mixture YAML (conf/it_mixtures/*.yaml).

``${name}`` placeholders in the YAML are filled from ``--var name=value`` over the YAML's own
``variables:`` defaults (``--pseudo_dir`` is a shortcut for ``--var pseudo_dir=...``,
``--tgt_langs`` for ``--var tgt_langs=...``: the languages of ``langs: ${tgt_langs}``). Writes
``conversations.jsonl``, ``key2source`` and the training data contract (``input_ids``,
``loss_mask``, ``stats.json``, ``tokenizer_dir``, ``skipped``).
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from espnet_spire.common.cli import parse_with_config, setup_logging, split_words
from espnet_spire.lm.it_data import build_it_data, load_mixture
from espnet_spire.lm.prompts import PromptStyle


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="YAML with option defaults")
    p.add_argument("--tokenizer_dir", required=True, help="stage-6 instruct tokenizer dir")
    p.add_argument("--mixture", required=True, help="mixture YAML")
    p.add_argument("--output_dir", required=True)
    p.add_argument("--var", action="append", default=[], metavar="NAME=VALUE", help="placeholder value (repeatable)")
    p.add_argument("--pseudo_dir", default=None, help="stage-9 pseudo-labelled ST dir (= --var pseudo_dir=...)")
    p.add_argument("--tgt_langs", nargs="*", default=None,
                   help="target languages, e.g. 'de fr es' (= --var tgt_langs=...)")
    p.add_argument("--max_len", type=int, default=4096)
    p.add_argument("--seed", type=int, default=None, help="overrides the mixture's seed")
    p.add_argument("--prompt_style", default=None, choices=["head", "paper"],
                   help="speech prompt newline: head '\\n' or paper '\\n ' (default: the mixture's)")
    p.add_argument("--key_prefix", default="it")
    p.add_argument("--log_level", default="INFO")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    parser = get_parser()
    args = parse_with_config(parser, argv)
    setup_logging(args.log_level)
    variables = {}
    for item in args.var:
        if "=" not in item:
            parser.error(f"--var expects NAME=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        variables[k] = v
    if args.pseudo_dir:
        variables["pseudo_dir"] = args.pseudo_dir
    if args.tgt_langs:
        variables["tgt_langs"] = " ".join(split_words(args.tgt_langs))
    mixture = load_mixture(args.mixture, variables)
    style = PromptStyle.from_name(args.prompt_style) if args.prompt_style else None
    build_it_data(args.tokenizer_dir, args.output_dir, mixture, args.max_len, args.seed, style,
                  key_prefix=args.key_prefix)
    return 0


if __name__ == "__main__":
    sys.exit(main())
