"""Combine the data dirs of one recipe role into a single dir (spire.sh, dump/roles/<role>/).

    python -m espnet_spire.bin.combine_data_dirs --output_dir dump/roles/it_asr \\
        --units_root dump/units data/cv_train data/europarl_st_en_de_train

Per-utterance files (text, text.tc.<lang>, utt2spk, wav.scp, ...) are merged by id in
``LC_ALL=C`` order; ``--units_root R`` also merges ``R/<name of each dir>/units``. An id in two
dirs is an error. ``combined_from.json`` lists the sources and line counts.
``--join_pairs`` instead joins the per-pair dirs of one ST corpus, which share their utterances,
into one dir carrying every ``text.tc.<lang>``; ``--tag_pair TAG`` copies one pair dir with its
ids suffixed ``-TAG``, so that pair dirs holding different utterances combine
(:mod:`espnet_spire.data.pair_union`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import List, Optional

from espnet_spire.common.cli import run_cli, setup_logging
from espnet_spire.data.combine import combine_data_dirs
from espnet_spire.data.pair_union import join_pair_dirs, tag_pair_dir

logger = logging.getLogger("combine_data_dirs")


def get_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output_dir", required=True, help="the combined dir, e.g. dump/roles/<role>")
    p.add_argument("--units_root", default=None, help="also merge <units_root>/<dir name>/units")
    p.add_argument("--join_pairs", action="store_true",
                   help="join the pair dirs of one ST corpus (shared ids allowed if their files agree)")
    p.add_argument("--tag_pair", default=None, metavar="TAG",
                   help="copy the one source dir with every id suffixed -TAG")
    p.add_argument("--log_level", default="INFO")
    p.add_argument("src_dirs", nargs="+", help="data dirs to combine")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    """Combine and log what was written."""
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)

    def run() -> None:
        if args.tag_pair:
            if len(args.src_dirs) != 1 or args.units_root or args.join_pairs:
                raise ValueError("--tag_pair copies exactly one data dir (no --units_root, no --join_pairs)")
            facts = tag_pair_dir(args.output_dir, args.src_dirs[0], args.tag_pair)
            logger.info("tagged %s -> %s (ids -%s): %s", args.src_dirs[0], args.output_dir, args.tag_pair,
                        ", ".join(f"{k} {v}" for k, v in facts["lines"].items()))
            return
        if args.join_pairs:
            if args.units_root:
                raise ValueError("--join_pairs joins data dirs only (no --units_root)")
            facts = join_pair_dirs(args.output_dir, args.src_dirs)
            logger.info("joined the pairs of %s -> %s: %s", " ".join(args.src_dirs), args.output_dir,
                        ", ".join(f"{k} {v}" for k, v in facts["lines"].items()))
            return
        units = None
        if args.units_root:
            units = [os.path.join(args.units_root, os.path.basename(os.path.normpath(d)), "units")
                     for d in args.src_dirs]
        facts = combine_data_dirs(args.output_dir, args.src_dirs, units)
        logger.info("combined %s -> %s: %s", " ".join(args.src_dirs), args.output_dir,
                    ", ".join(f"{k} {v}" for k, v in facts["lines"].items()))

    return run_cli(run, logger)


if __name__ == "__main__":
    sys.exit(main())
