#!/usr/bin/env python3
"""Stage 6a: extend a base LLM tokenizer with SPIRE's specials and one token per speech unit.

Writes ``<output_dir>/spm.model`` + ``spm.vocab`` (sentencepiece bases), ``<output_dir>/base/``
(eos = pad = ``</s>``) and ``<output_dir>/instruct/`` (``<|im_end|>`` eos, ``<|im_start|>``, the
TowerInstruct chat template), each with ``spire_tokenizer.json`` describing the id layout and
``spire.json`` with the facts later stages read (K, unit format, base, k-means model).

K comes from ``--kmeans`` (the model the units were labelled with); ``--num_units`` is then only a
check, and a mismatch stops here with both values named.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional

from espnet_spire.common.cli import parse_with_config, setup_logging, str2bool
from espnet_spire.lm.facts import resolve_num_units
from espnet_spire.lm.tokenizer_extension import SPIRE_SPECIALS, extend_tokenizer


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="YAML with option defaults")
    p.add_argument("--base_dir", required=True,
                   help="local base model/tokenizer dir (tokenizer.model or tokenizer.json)")
    p.add_argument("--output_dir", required=True)
    p.add_argument("--kmeans", default=None,
                   help="k-means model the units come from (our dir, joblib file or centers.npy): K is read from it")
    p.add_argument("--num_units", type=int, default=None,
                   help="K, the number of k-means clusters (with --kmeans: must match it)")
    p.add_argument("--trust_pickle", type=str2bool, default=False,
                   help="load a --kmeans that exists only as a pickle (unpickling runs code from the file)")
    p.add_argument("--specials", default=",".join(SPIRE_SPECIALS), help="comma-separated; '' for none")
    p.add_argument("--scoring", default="bpe", choices=["bpe", "zero"], help="scores of appended spm pieces")
    p.add_argument("--method", default="auto", choices=["auto", "spm", "added_tokens"])
    p.add_argument("--check", type=str2bool, default=True,
                   help="compare HF ids with native sentencepiece after building")
    p.add_argument("--log_level", default="INFO")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_with_config(get_parser(), argv)
    setup_logging(args.log_level)
    specials = [s for s in args.specials.split(",") if s]
    try:
        num_units, kmeans_facts = resolve_num_units(args.num_units, args.kmeans, args.trust_pickle)
    except (ValueError, FileNotFoundError) as exc:
        logging.error("%s", exc)
        return 1
    base, inst = extend_tokenizer(args.base_dir, args.output_dir, num_units, specials, args.scoring,
                                  args.method, args.check, kmeans_facts)
    logging.info("wrote %s/base (len %d) and %s/instruct (len %d)", args.output_dir, base.length,
                 args.output_dir, inst.length)
    return 0


if __name__ == "__main__":
    sys.exit(main())
