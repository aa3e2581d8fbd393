#!/usr/bin/env python3
"""Stage 14: export a trained model as a self-contained HF model dir under ``<output_dir>/hf``
(tokenizer, greedy generation config, ``spire.json``, the k-means model in ``kmeans/``, the
configs in ``conf/``, a model card) and optionally pack it with RESULTS.md into a tar.gz."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional

from espnet_spire.common.cli import parse_with_config, setup_logging
from espnet_spire.train.pack import DEFAULT_LICENSE_NOTE, export_and_pack


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
    p.add_argument("--log_level", default="INFO")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_with_config(get_parser(), argv)
    setup_logging(args.log_level)
    try:
        export_and_pack(args.model_dir, args.output_dir, args.tokenizer_dir, args.kmeans, args.conf, args.results,
                        args.pack, args.dtype, args.license_note, args.name)
    except (ValueError, FileNotFoundError) as exc:
        logging.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
