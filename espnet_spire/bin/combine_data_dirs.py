"""Combine the data dirs of one recipe role into a single dir (spire.sh, dump/roles/<role>/).

    python -m espnet_spire.bin.combine_data_dirs --output_dir dump/roles/it_asr \\
        --units_root dump/units data/cv_train data/europarl_st_en_de_train

Per-utterance files (text, text.tc.<lang>, utt2spk, wav.scp, ...) are merged by id in
``LC_ALL=C`` order; ``--units_root R`` also merges ``R/<name of each dir>/units``. An id in two
dirs is an error. ``combined_from.json`` lists the sources and line counts.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import List, Optional

from espnet_spire.common.cli import run_cli, setup_logging
from espnet_spire.data.combine import combine_data_dirs

logger = logging.getLogger("combine_data_dirs")


def get_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output_dir", required=True, help="the combined dir, e.g. dump/roles/<role>")
    p.add_argument("--units_root", default=None, help="also merge <units_root>/<dir name>/units")
    p.add_argument("--log_level", default="INFO")
    p.add_argument("src_dirs", nargs="+", help="data dirs to combine")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    """Combine and log what was written."""
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)

    def run() -> None:
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
