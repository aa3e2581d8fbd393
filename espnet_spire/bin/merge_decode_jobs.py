#!/usr/bin/env python3
"""Stage 12: merge ``LOGDIR/output.{1..nj}/<task>/`` into ``OUTPUT_DIR/<task>/`` (text, prompts.jsonl,
skipped); exit 1 naming the job when one has no output, or the id when two jobs decoded it."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional

from espnet_spire.common.cli import run_cli, setup_logging, split_words
from espnet_spire.lm.decode_merge import merge_decode_jobs

logger = logging.getLogger("merge_decode_jobs")


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--logdir", required=True, help="the dir holding output.1 .. output.<nj>")
    p.add_argument("--nj", type=int, required=True, help="jobs of this run (output.<n> above it are ignored)")
    p.add_argument("--tasks", nargs="+", required=True, help="task dirs to merge (asr st_de ...)")
    p.add_argument("--output_dir", required=True, help="e.g. exp/<model>/decode_<tag>/<test_set>")
    p.add_argument("--log_level", default="INFO")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    return run_cli(lambda: merge_decode_jobs(args.logdir, args.nj, split_words(args.tasks), args.output_dir), logger)


if __name__ == "__main__":
    sys.exit(main())
