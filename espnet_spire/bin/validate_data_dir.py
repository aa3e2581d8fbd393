"""Check a Kaldi-style data directory (sorting, ids, speakers, audio) and summarise it.

Exit status 0 when the directory is valid, 1 otherwise; the first error of each kind is
printed per file with its line number.  See :mod:`espnet_spire.data.validate` for the checks.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

from espnet_spire.common.cli import setup_logging
from espnet_spire.data.validate import describe, validate_data_dir, write_summary_json


def get_parser() -> argparse.ArgumentParser:
    """Command-line options (underscore and dash spellings are both accepted)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("data_dir", nargs="+", help="data directories, e.g. data/train (several: one process)")
    parser.add_argument(
        "--no_audio", "--no-audio", action="store_true", help="do not decode the audio"
    )
    parser.add_argument(
        "--no_text",
        "--no-text",
        action="store_true",
        help="text is not required; text and text.* are not checked",
    )
    parser.add_argument(
        "--spk_sort",
        "--spk-sort",
        action="store_true",
        help="require utt2spk sorted by speaker to be sorted by utterance too (Kaldi rule)",
    )
    parser.add_argument(
        "--nj",
        type=int,
        default=min(4, os.cpu_count() or 1),
        help="threads decoding audio (default: min(4, CPUs))",
    )
    parser.add_argument("--summary_json", default=None, help="also write the result as JSON")
    parser.add_argument(
        "--show_warnings",
        "--show-warnings",
        action="store_true",
        help="print warnings (empty transcripts, unused recordings), not only their count",
    )
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    """Validate each dir, print its summary to stdout and its errors to stderr; exit 1 when any
    dir has errors (after checking them all)."""
    parser = get_parser()
    args = parser.parse_args(argv)
    if args.summary_json and len(args.data_dir) > 1:
        parser.error("--summary_json takes one data dir")
    setup_logging()
    bad = [d for d in args.data_dir if not _check(d, args)]
    if bad:
        if len(args.data_dir) > 1:
            print(f"validate_data_dir: {len(bad)} of {len(args.data_dir)} dirs failed: {' '.join(bad)}",
                  file=sys.stderr)
        sys.exit(1)


def _check(data_dir: str, args: argparse.Namespace) -> bool:
    """Validate one dir and print what was found; True when it is valid."""
    result = validate_data_dir(
        data_dir,
        check_audio=not args.no_audio,
        check_text=not args.no_text,
        spk_sort=args.spk_sort,
        nj=max(1, args.nj),
    )
    if args.summary_json:
        write_summary_json(result, args.summary_json)
    status = "OK" if result.ok else f"FAILED ({len(result.errors)} errors)"
    print(f"validate_data_dir: {result.data_dir}: {status}")
    for line in result.summary.format().splitlines():
        print(f"  {line}")
    if result.warnings:
        if args.show_warnings:
            for line in describe(result.first_warnings()):
                print(f"WARNING: {line}", file=sys.stderr)
        else:
            print(
                f"  {len(result.warnings)} warnings (--show_warnings lists them)",
            )
    if not result.ok:
        for line in describe(result.first_errors()):
            print(f"ERROR: {line}", file=sys.stderr)
    return result.ok


if __name__ == "__main__":
    main()
