"""Write RESULTS.md from every scored decode directory (spire.sh stage 13).

Reads ``<exp_dir>/<model>/<decode_tag>/<test_set>/<task>/scores.json`` (written by
``espnet_spire.bin.score_decode_dir``) and, for other systems, ``--external NAME=DIR`` with
``DIR/<test_set>/<task>/scores.json``; writes an ESPnet-style RESULTS.md (environment header,
per-model tables of WER, CER, BLEU, spBLEU, chrF, COMET, sclite details, signatures).

Example::

    python -m espnet_spire.bin.make_results --exp_dir exp --out RESULTS.md \\
        --external seamless_m4t=exp/external/seamless_m4t
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional


def _external(value: str):
    name, sep, path = value.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"--external expects NAME=DIR, got {value!r}")
    return name, path


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exp_dir", default="exp", help="experiment dir holding <model>/<decode>/<set>/<task>/")
    parser.add_argument("--out", default="RESULTS.md", help="output file (the recipe root's RESULTS.md)")
    parser.add_argument(
        "--external", type=_external, action="append", default=[], metavar="NAME=DIR",
        help="another system's scored outputs, DIR/<test_set>/<task>/scores.json (repeatable)",
    )
    parser.add_argument("--git_dir", default=None, help="repository whose hash is reported (default: espnet_spire's)")
    parser.add_argument("--decode_dir", action="append", default=None,
                        help="only the scores under this decode dir (repeat it; default: every one under --exp_dir)")
    parser.add_argument("--title", default="RESULTS")
    parser.add_argument("--note", action="append", default=[],
                        help="a line stated under the header, e.g. a setting that affects the numbers (repeatable)")
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(argv)
    from espnet_spire.scoring.results import make_results

    try:
        text = make_results(args.exp_dir, args.out, args.external, args.git_dir, args.title, args.note,
                            args.decode_dir)
    except FileNotFoundError as e:
        print(f"make_results: ERROR: {e}", file=sys.stderr)
        sys.exit(1)
    n = text.count("\n## ") - 1 - text.count("\n## Summary")  # minus "## Environments", "## Summary"
    print(f"make_results: wrote {args.out} ({n} systems)")


if __name__ == "__main__":
    main()
