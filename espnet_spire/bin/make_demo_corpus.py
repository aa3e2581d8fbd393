"""Generate the synthetic multilingual demo corpus (stage 1 of the demo recipe).

Example:
    python -m espnet_spire.bin.make_demo_corpus --data_dir data --audio_dir downloads/demo
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Optional

from espnet_spire.common.cli import setup_logging
from espnet_spire.demo.corpus import make_demo_corpus


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data_dir", type=Path, default=Path("data"))
    p.add_argument("--audio_dir", type=Path, default=Path("downloads/demo"))
    p.add_argument("--prefix", default="demo", help="data dirs are <prefix>_train etc.")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n_train", type=int, default=2400, help="distinct train sentences")
    p.add_argument("--n_dev", type=int, default=250)
    p.add_argument("--n_test", type=int, default=250)
    p.add_argument("--n_mt", type=int, default=2000, help="MT-only parallel sentences")
    p.add_argument("--n_mono", type=int, default=1500, help="monolingual-only sentences")
    p.add_argument("--train_renderings", type=int, default=1,
                   help="voices per train sentence (more renderings: more robust units)")
    p.add_argument("--nj", type=int, default=2, help="parallel synthesis workers")
    return p


def main(argv: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(argv)
    setup_logging()
    make_demo_corpus(args.data_dir, args.audio_dir, args.prefix, args.seed, args.n_train,
                     args.n_dev, args.n_test, args.n_mt, args.n_mono, args.train_renderings,
                     args.nj)


if __name__ == "__main__":
    main()
