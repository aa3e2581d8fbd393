"""Prepare one corpus from its distributed layout into Kaldi-style data dirs.

Usage: ``python -m espnet_spire.bin.prepare_corpus <corpus> --corpus_dir DIR [--data_root data] ...``;
``python -m espnet_spire.bin.prepare_corpus --help`` lists the corpora, ``<corpus> --help`` the
layout it expects and its options.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional

from espnet_spire.common.cli import run_cli, setup_logging
from espnet_spire.corpora import catalog  # noqa: F401  (fills CORPORA)
from espnet_spire.corpora.registry import CORPORA

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="corpus", required=True, metavar="corpus")
    for name in CORPORA:
        corpus = CORPORA.get(name)
        p = sub.add_parser(name, help=corpus.layout.split(".")[0], description=corpus.layout,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--corpus_dir", required=True, help="root of the corpus as distributed")
        p.add_argument("--data_root", default="data", help="where the data dirs are written")
        p.add_argument("--seed", type=int, default=0, help="seed of every sampling rule")
        corpus.add_arguments(p)
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    setup_logging()
    args = get_parser().parse_args(argv)

    def run() -> None:
        prepared = CORPORA.get(args.corpus).prepare(args)
        for path, record in prepared.items():
            logger.info("wrote %s (%s utterances)", path, record.get("utterances"))

    sys.exit(run_cli(run, logger))


if __name__ == "__main__":
    main()
