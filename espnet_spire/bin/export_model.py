#!/usr/bin/env python3
"""Stage 14: export a trained model as the Hub repo ``<output_dir>`` whose root ``from_pretrained``
loads (weights, tokenizer, greedy generation config, ``spire.json``), with the k-means model in
``kmeans/``, the configs in ``conf/``, ``RESULTS.md`` and a model card with the Hub's metadata
header, and optionally pack it into a tar.gz."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional

from espnet_spire.common.cli import parse_with_config, setup_logging, str2bool
from espnet_spire.train.pack import DEFAULT_LICENSE, DEFAULT_LICENSE_NOTE, export_and_pack


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="YAML with option defaults")
    p.add_argument("--model_dir", required=True, help="trained HF model dir (exp/<model>/hf_model)")
    p.add_argument("--tokenizer_dir", default=None, help="default: the model dir's own tokenizer")
    p.add_argument("--output_dir", required=True)
    p.add_argument("--kmeans", action="append", default=[],
                   help="k-means dir or file the units were made with (repeatable; the first is checked against K)")
    p.add_argument("--conf", action="append", default=[], help="config file or dir to pack (repeatable)")
    p.add_argument("--results", default=None, help="RESULTS.md to pack and quote in the card")
    p.add_argument("--pack", default=None, help="write this .tar.gz")
    p.add_argument("--dtype", default=None, choices=["float32", "bfloat16", "float16"], help="cast before saving")
    p.add_argument("--name", default="espnet_spire model", help="model card title")
    p.add_argument("--license_note", default=DEFAULT_LICENSE_NOTE)
    p.add_argument("--license", default=DEFAULT_LICENSE, help="Hub license id of the card's metadata header")
    p.add_argument("--languages", default="", help="space-separated ISO 639-1 codes for the card (e.g. 'en de zh')")
    p.add_argument("--base_model_id", default="",
                   help="Hub id of the base model for the card (e.g. Unbabel/TowerBase-7B-v0.1); empty: none")
    p.add_argument("--trust_pickle", type=str2bool, default=False,
                   help="load a --kmeans that exists only as a pickle (unpickling runs code from the file)")
    p.add_argument("--log_level", default="INFO")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_with_config(get_parser(), argv)
    setup_logging(args.log_level)
    try:
        export_and_pack(args.model_dir, args.output_dir, args.tokenizer_dir, args.kmeans, args.conf, args.results,
                        args.pack, args.dtype, args.license_note, args.name, trust_pickle=args.trust_pickle,
                        languages=args.languages.split(), license_id=args.license,
                        base_model_id=args.base_model_id or None)
    except (ValueError, FileNotFoundError) as exc:
        logging.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
