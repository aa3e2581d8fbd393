#!/usr/bin/env python3
"""Export SPIRE LLM weights of an ESPnet experiment as a Hugging Face model directory.

    python -m espnet_spire.bin.spire_lm_to_hf --exp_dir exp/lm_cpt --checkpoint valid.loss.best \\
        --output_dir exp/lm_cpt/hf_model

``--checkpoint``: ``latest`` (default), ``valid.loss.best``, ``valid.loss.ave``, ``3epoch``, a
path to a ``.pth`` file (epoch/averaged state dict or ``checkpoint.pth``) or a DeepSpeed
checkpoint directory (``exp/lm_cpt/checkpoint_3``).  The source model directory (config and
tokenizer files) is ``--model_dir`` or, by default, ``model_dir`` of ``<exp_dir>/config.yaml``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

from espnet_spire.common.cli import setup_logging


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--exp_dir", "--exp-dir", required=True, help="ESPnet output dir")
    parser.add_argument("--checkpoint", default="latest", help="which weights (see above)")
    parser.add_argument("--output_dir", "--output-dir", default=None,
                        help="default: <exp_dir>/hf_model")
    parser.add_argument("--model_dir", "--model-dir", default=None,
                        help="source HF dir (default: model_dir of <exp_dir>/config.yaml)")
    parser.add_argument("--dtype", default="auto",
                        choices=["auto", "float32", "bfloat16", "float16"])
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    import yaml

    from espnet_spire.train.hf_export import export_hf, resolve_checkpoint

    exp_dir = Path(args.exp_dir)
    model_dir = args.model_dir
    if model_dir is None:
        conf = exp_dir / "config.yaml"
        if not conf.exists():
            print(f"{conf} not found: give --model_dir", file=sys.stderr)
            return 2
        with open(conf, encoding="utf-8") as f:
            model_dir = yaml.safe_load(f).get("model_dir")
        if not model_dir:
            print(f"{conf} has no model_dir: give --model_dir", file=sys.stderr)
            return 2
    ckpt = resolve_checkpoint(exp_dir, args.checkpoint)
    out = Path(args.output_dir) if args.output_dir else exp_dir / "hf_model"
    export_hf(ckpt, model_dir, out, dtype=args.dtype)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
