"""Write a subset of prepared speech data dirs by the paper's rules.

Usage:
  ``python -m espnet_spire.bin.subset_data_dir kmeans --covost D.. --voxpopuli D.. --mls D.. --out DIR``
  (the k-means set, §3.1; sizes and per-speaker caps default to the paper's),
  ``python -m espnet_spire.bin.subset_data_dir pseudo_st_source --src D.. --out DIR [--size 300000]``
  (transcripts to translate for pseudo-labelled ST, §3.3.1),
  ``python -m espnet_spire.bin.subset_data_dir rules --src D.. --out DIR [--min_seconds S]
  [--max_speakers_per_text N] [--max_per_speaker N] [--size N]`` (any of the rules, in that order).
The output's ``corpus.json`` records the subset, its sources and each rule's counts.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional

from espnet_spire.common.cli import run_cli, setup_logging
from espnet_spire.corpora import rules as R
from espnet_spire.corpora.subset import KMEANS_RULES, SubsetRules, kmeans_subset, pseudo_st_source, write_subset

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="rule", required=True, metavar="rule")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--out", required=True, help="subset data dir to write")
        p.add_argument("--seed", type=int, default=0)

    km = sub.add_parser("kmeans", help="the paper's k-means training set (CoVoST-2 + VoxPopuli + MLS)")
    common(km)
    for group, default in KMEANS_RULES.items():
        km.add_argument(f"--{group}", nargs="+", required=True, metavar="DIR", help=f"prepared {group} dir(s)")
        km.add_argument(f"--{group}_files", type=int, default=default.size)
        if default.max_per_speaker is not None:
            km.add_argument(f"--{group}_max_per_speaker", type=int, default=default.max_per_speaker)

    ps = sub.add_parser("pseudo_st_source", help="a seeded sample of transcripts for pseudo-labelled ST")
    common(ps)
    ps.add_argument("--src", nargs="+", required=True, metavar="DIR")
    ps.add_argument("--size", type=int, default=R.PSEUDO_ST_SOURCE_SIZE)

    ru = sub.add_parser("rules", help="any of the rules, in the order of the options below")
    common(ru)
    ru.add_argument("--src", nargs="+", required=True, metavar="DIR")
    ru.add_argument("--name", default="subset", help="the subset's name in corpus.json")
    ru.add_argument("--min_seconds", type=float)
    ru.add_argument("--max_speakers_per_text", type=int)
    ru.add_argument("--max_per_speaker", type=int)
    ru.add_argument("--size", type=int)
    return parser


def run(args: argparse.Namespace) -> dict:
    if args.rule == "kmeans":
        rules = {group: SubsetRules(max_per_speaker=getattr(args, f"{group}_max_per_speaker", None),
                                    size=getattr(args, f"{group}_files")) for group in KMEANS_RULES}
        return kmeans_subset(args.out, args.covost, args.voxpopuli, args.mls, args.seed, rules)
    if args.rule == "pseudo_st_source":
        return pseudo_st_source(args.out, args.src, args.size, args.seed)
    rules = SubsetRules(args.min_seconds, args.max_speakers_per_text, args.max_per_speaker, args.size)
    return write_subset(args.out, {"source": args.src}, {"source": rules}, args.name, args.seed)


def main(argv: Optional[List[str]] = None) -> None:
    setup_logging()
    args = get_parser().parse_args(argv)

    def go() -> None:
        record = run(args)
        logger.info("wrote %s (%s utterances)", args.out, record["utterances"])

    sys.exit(run_cli(go, logger))


if __name__ == "__main__":
    main()
