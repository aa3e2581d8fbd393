"""Stage 3: dump a bounded, seeded sample of training-set features for k-means learning.

One job per key list; a finished job (``done`` marker with an unchanged signature) is skipped on
rerun. Each job keeps a hash-chosen ``--portion`` of its utterances and at most ``--max_frames``
frames of them (reservoir sampling), so the dump is at most ``nj x max_frames x D x 4`` bytes.

Usage::

    python -m espnet_spire.bin.dump_ssl_feats --data_dir dump/raw/train \
        --key_file exp/kmeans_feats/logdir/keys.1.scp --output_dir exp/kmeans_feats/output.1 \
        --feature_type hf_ssl --ssl_model /models/hubert-large-ll60k --layer 22 \
        --portion 0.1 --max_frames 250000 --seed 0 --out_format npy
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional

from espnet_spire.common.cli import run_cli
from espnet_spire.units import options as unit_opts

logger = logging.getLogger("dump_ssl_feats")


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m espnet_spire.bin.dump_ssl_feats",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    unit_opts.add_job_input_args(parser)
    parser.add_argument("--output_dir", required=True, help="Job output dir")
    parser.add_argument("--portion", type=float, default=1.0,
                        help="Share of utterances to use, chosen by hash(seed, uttid)")
    parser.add_argument("--max_frames", type=int, required=True, help="Frames kept by this job (reservoir size)")
    parser.add_argument("--out_format", default="npy", choices=["npy", "ark"], help="feats.npy or Kaldi feats.ark/scp")
    parser.add_argument("--window", type=int, default=32, help="Utterances read and featurised together")
    unit_opts.add_feature_args(parser)
    unit_opts.add_common_args(parser)
    return parser


def run(args: argparse.Namespace) -> None:
    """Dump the sampled features of one job."""
    from espnet_spire.units.featdump import dump_job

    dump_job(
        unit_opts.job_entries(args),
        unit_opts.extractor_from_args(args),
        args.output_dir,
        portion=args.portion,
        max_frames=args.max_frames,
        seed=args.seed,
        out_format=args.out_format,
        window=args.window,
    )


def main(argv: Optional[List[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    unit_opts.setup(args)
    return run_cli(lambda: run(args), logger)


if __name__ == "__main__":
    sys.exit(main())
