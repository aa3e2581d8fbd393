"""Stage 5: label audio with discrete units (``label``), then join the job pieces (``merge``).

Usage (one job of a split, then the merge)::

    python -m espnet_spire.bin.label_units label --data_dir dump/raw/train \
        --key_file dump/units/train/logdir/keys.1.scp --kmeans exp/kmeans/hubert_large_l22_k5000 \
        --feature_type hf_ssl --ssl_model /models/hubert-large-ll60k --layer 22 \
        --output_dir dump/units/train/logdir/output.1
    python -m espnet_spire.bin.label_units merge --logdir dump/units/train/logdir --nj 4 \
        --output_dir dump/units/train --max_failed_ratio 0.05
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional

from espnet_spire.common.cli import run_cli, str2bool
from espnet_spire.units import options as unit_opts

logger = logging.getLogger("label_units")


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m espnet_spire.bin.label_units",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    lab = sub.add_parser("label", help="Label the utterances of one key list")
    unit_opts.add_job_input_args(lab)
    lab.add_argument("--kmeans", required=True, help="k-means dir, centers.npy, or joblib (MiniBatch)KMeans file")
    lab.add_argument("--output_dir", required=True, help="Job output dir (units, utt2num_units, failed, done)")
    lab.add_argument("--dsu_format", default="pua", choices=["pua", "extra_id", "indices"])
    lab.add_argument("--dedup", type=str2bool, default=True, help="Collapse repeated units (SPIRE default: true)")
    lab.add_argument("--assign_backend", default="torch", choices=["torch", "faiss"])
    lab.add_argument("--assign_dtype", default="fp32", choices=["fp32", "bf16"], help="bf16 = SpireLM HEAD plans")
    lab.add_argument("--check_provenance", type=str2bool, default=True, help="Refuse k-means learnt on other features")
    lab.add_argument("--trust_pickle", type=str2bool, default=False,
                     help="Load a k-means model that exists only as a pickle (unpickling runs code from the file)")
    lab.add_argument("--window", type=int, default=32, help="Utterances read and featurised together")
    unit_opts.add_feature_args(lab)
    unit_opts.add_common_args(lab)

    mer = sub.add_parser("merge", help="Merge finished jobs into sorted set files")
    mer.add_argument("--logdir", required=True, help="Dir holding output.1 .. output.NJ")
    mer.add_argument("--nj", type=int, required=True, help="Number of jobs")
    mer.add_argument("--output_dir", required=True, help="Set dir, e.g. dump/units/<set>")
    mer.add_argument(
        "--max_failed_ratio",
        type=float,
        default=0.05,
        help="Fail when more than this share of utterances could not be labelled (default 0.05)",
    )
    unit_opts.add_common_args(mer)
    return parser


def run_label(args: argparse.Namespace) -> None:
    from espnet_spire.units.kmeans import load_kmeans
    from espnet_spire.units.label import LabelOptions, label_job

    entries = unit_opts.job_entries(args)
    kmeans = load_kmeans(args.kmeans, args.trust_pickle)
    extractor = unit_opts.extractor_from_args(args)
    opts = LabelOptions(
        dsu_format=args.dsu_format,
        dedup=args.dedup,
        assign_backend=args.assign_backend,
        assign_dtype=args.assign_dtype,
        check_provenance=args.check_provenance,
        window=args.window,
    )
    label_job(entries, extractor, kmeans, args.output_dir, opts)


def run_merge(args: argparse.Namespace) -> None:
    from espnet_spire.units.merge import job_dirs, merge_units

    merge_units(job_dirs(args.logdir, args.nj), args.output_dir, args.max_failed_ratio)


def main(argv: Optional[List[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    unit_opts.setup(args)
    return run_cli(lambda: run_label(args) if args.command == "label" else run_merge(args), logger)


if __name__ == "__main__":
    sys.exit(main())
