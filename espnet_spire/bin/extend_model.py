#!/usr/bin/env python3
"""Stage 6b: resize a base LLM's embeddings to an extended tokenizer and initialise the new rows.

Rows are padded to a multiple of 64; ``--init_strategy mean`` samples new rows from N(mu, 1e-5
Sigma) of the old rows (input and output embeddings separately, seeded), as SPIRE. The strategy,
seed and sizes go to ``<output_dir>/extension.json``.
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from espnet_spire.common.cli import parse_with_config, setup_logging
from espnet_spire.lm.model_extension import STRATEGIES, extend_model_dir


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="YAML with option defaults")
    p.add_argument("--model_dir", required=True, help="local HF causal LM dir (e.g. TowerBase-7B)")
    p.add_argument("--tokenizer_dir", required=True, help="extended tokenizer dir (stage 6a base/)")
    p.add_argument("--output_dir", required=True)
    p.add_argument("--init_strategy", default="mean", choices=list(STRATEGIES))
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--pad_to_multiple_of", type=int, default=64)
    p.add_argument("--first_new_row", type=int, default=None,
                   help="first id to initialise (default: base vocabulary size from spire_tokenizer.json)")
    p.add_argument("--covariance_scale", type=float, default=1e-5)
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    p.add_argument("--log_level", default="INFO")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_with_config(get_parser(), argv)
    setup_logging(args.log_level)
    extend_model_dir(args.model_dir, args.tokenizer_dir, args.output_dir, args.init_strategy, args.seed,
                     args.first_new_row, args.pad_to_multiple_of, args.dtype, args.covariance_scale)
    return 0


if __name__ == "__main__":
    sys.exit(main())
