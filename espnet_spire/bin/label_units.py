"""Stage 5: label audio with discrete units (``label``), then join the job pieces (``merge``).

Usage (one job of a split, then the merge)::

    python -m espnet_spire.bin.label_units label --data_dir dump/raw/train \
        --key_file dump/units/train/logdir/keys.1.scp --kmeans exp/kmeans/hubert_large_l22_k5000 \
        --feature_type hf_ssl --ssl_model /models/hubert-large-ll60k --layer 22 \
        --output_dir dump/units/train/logdir/output.1
    python -m espnet_spire.bin.label_units merge --logdir dump/units/train/logdir --nj 4 \
        --output_dir dump/units/train --max_failed_ratio 0.05

Many data dirs in one process (the SSL model and k-means are loaded once): ``label --job_list``
(lines ``data_dir<TAB>key_file<TAB>output_dir``) and ``merge --merge_list`` (lines
``logdir<TAB>nj<TAB>output_dir``). A set that fails does not stop the others; the run exits 1 at
the end, naming every failed set.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional

from espnet_spire.common.cli import run_cli, str2bool
from espnet_spire.common.jobs import JobError, each_set, job_count, read_job_list
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
    unit_opts.add_job_input_args(lab, required=False)
    lab.add_argument("--job_list", default=None,
                     help="instead of --data_dir/--key_file/--output_dir: lines 'data_dir<TAB>key_file<TAB>output_dir'")
    lab.add_argument("--kmeans", required=True, help="k-means dir, centers.npy, or joblib (MiniBatch)KMeans file")
    lab.add_argument("--output_dir", default=None, help="Job output dir (units, utt2num_units, failed, done)")
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
    mer.add_argument("--logdir", default=None, help="Dir holding output.1 .. output.NJ")
    mer.add_argument("--nj", type=int, default=None, help="Number of jobs")
    mer.add_argument("--output_dir", default=None, help="Set dir, e.g. dump/units/<set>")
    mer.add_argument("--merge_list", default=None,
                     help="instead of --logdir/--nj/--output_dir: lines 'logdir<TAB>nj<TAB>output_dir'")
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

    if args.job_list:
        sets = [(r["data_dir"], r["key_file"], r["output_dir"])
                for r in read_job_list(args.job_list, ("data_dir", "key_file", "output_dir"), optional=("key_file",))]
    elif args.data_dir and args.output_dir:
        sets = [(args.data_dir, args.key_file, args.output_dir)]
    else:
        raise JobError("label needs --data_dir and --output_dir, or --job_list")
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
    each_set(sets, lambda d, k, o: label_job(unit_opts.set_entries(d, k), extractor, kmeans, o, opts))


def run_merge(args: argparse.Namespace) -> None:
    from espnet_spire.units.merge import job_dirs, merge_units

    if args.merge_list:
        sets = [(r["logdir"], job_count(r["nj"], args.merge_list), r["output_dir"])
                for r in read_job_list(args.merge_list, ("logdir", "nj", "output_dir"))]
    elif args.logdir and args.nj and args.output_dir:
        sets = [(args.logdir, args.nj, args.output_dir)]
    else:
        raise JobError("merge needs --logdir, --nj and --output_dir, or --merge_list")
    each_set(sets, lambda logdir, nj, out: merge_units(job_dirs(logdir, nj), out, args.max_failed_ratio))


def main(argv: Optional[List[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    unit_opts.setup(args)
    return run_cli(lambda: run_label(args) if args.command == "label" else run_merge(args), logger)


if __name__ == "__main__":
    sys.exit(main())
