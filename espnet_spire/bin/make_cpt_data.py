#!/usr/bin/env python3
"""Stage 7: build one CPT split (ASR + MT + monolingual text, mixed by token ratio, packed).

Output = the training data contract: ``input_ids``, ``loss_mask``, ``stats.json``,
``tokenizer_dir``, ``skipped`` (+ ``seq2docs``: which documents each sequence packs).
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from espnet_spire.common.cli import parse_with_config, setup_logging, split_words, str2bool
from espnet_spire.lm.cpt_data import CptConfig, build_cpt_data, parse_budget, parse_ratio
from espnet_spire.lm.languages import ST_TARGETS
from espnet_spire.lm.prompts import CptFormat


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="YAML with option defaults (keys = option names)")
    p.add_argument("--tokenizer_dir", required=True, help="stage-6 base tokenizer dir")
    p.add_argument("--output_dir", required=True)
    p.add_argument("--asr_units", action="append", default=[], help="units file (repeatable, paired with --asr_text)")
    p.add_argument("--asr_text", action="append", default=[], help="Kaldi text file of the same utterances")
    p.add_argument("--mt_dir", action="append", default=[], help="dir with aligned text.tc.<lang> files (repeatable)")
    p.add_argument("--mt_langs", nargs="*", default=list(ST_TARGETS), help="languages paired with --src_lang")
    p.add_argument("--src_lang", default="en")
    p.add_argument("--mt_directions", default="both", choices=["both", "en2xx", "xx2en", "random"])
    p.add_argument("--mono", action="append", default=[], help="monolingual Kaldi-style text file (repeatable)")
    p.add_argument("--speech_text_ratio", default="5:1", help="speech:text tokens, e.g. 5:1; 'none' keeps all")
    p.add_argument("--max_tokens", type=parse_budget, default=None,
                   help="token budget of the mixture (paper: 6B), e.g. 6B, 6e9; 0 = no budget (default)")
    p.add_argument("--max_len", type=int, default=4096, help="tokens per packed sequence")
    p.add_argument("--pad_to_max_len", type=str2bool, default=True)
    p.add_argument("--pack_window", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--loss_on_units", type=str2bool, default=True,
                   help="train on the unit tokens too (paper); false: units are context only")
    p.add_argument("--key_prefix", default="cpt")
    p.add_argument("--speech_prefix", default="Speech:", help="CPT ASR format: text before the units")
    p.add_argument("--unit_sep", default="", help="between the speech prefix and the units")
    p.add_argument("--field_sep", default=" ", help="between units/source and the next language tag")
    p.add_argument("--answer_sep", default=" ", help="between a language tag's colon and its text")
    p.add_argument("--log_level", default="INFO")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    parser = get_parser()
    args = parse_with_config(parser, argv)
    setup_logging(args.log_level)
    if len(args.asr_units) != len(args.asr_text):
        parser.error("--asr_units and --asr_text must be given the same number of times")
    cfg = CptConfig(
        max_len=args.max_len,
        speech_text_ratio=parse_ratio(args.speech_text_ratio),
        max_tokens=parse_budget(args.max_tokens),  # also a YAML --config value
        seed=args.seed,
        pad_to_max_len=args.pad_to_max_len,
        pack_window=args.pack_window,
        src_lang=args.src_lang,
        mt_langs=split_words(args.mt_langs),
        mt_directions=args.mt_directions,
        key_prefix=args.key_prefix,
        loss_on_units=args.loss_on_units,
        fmt=CptFormat(args.speech_prefix, args.unit_sep, args.field_sep, args.answer_sep),
    )
    build_cpt_data(args.tokenizer_dir, args.output_dir, cfg, list(zip(args.asr_units, args.asr_text)),
                   args.mt_dir, args.mono)
    return 0


if __name__ == "__main__":
    sys.exit(main())
