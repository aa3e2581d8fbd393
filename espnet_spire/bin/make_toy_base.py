"""Build the demo's stand-in for TowerBase (tokenizer trained on the demo text + random Llama).

Example:
    python -m espnet_spire.bin.make_toy_base --config conf/toy_base.yaml \
        --text data/demo_mt_train/text.tc.en ... --output_dir exp/toy_base/init
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Optional

from espnet_spire.common.cli import setup_logging
from espnet_spire.demo.toy_base import build_toy_base, load_model_config


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, required=True, help="YAML with model: and vocab_size:")
    p.add_argument("--text", type=Path, nargs="+", required=True, help="Kaldi-style text files")
    p.add_argument("--output_dir", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    setup_logging()
    model_config, vocab_size = load_model_config(args.config)
    build_toy_base(args.text, args.output_dir, model_config, vocab_size, args.seed)


if __name__ == "__main__":
    main()
