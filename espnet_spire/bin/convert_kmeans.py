#!/usr/bin/env python3
"""Convert a trusted k-means pickle (joblib) into the safe format every stage loads without pickle.

Usage::

    python -m espnet_spire.bin.convert_kmeans /models/SpireKMeans/kmeans_model exp/kmeans/spire_kmeans

Running this asserts that you trust the pickle: loading it runs code stored in the file. The
output dir gets ``centers.npy`` (K x D float32) and ``kmeans.json`` (K, dim, centroid hash);
give that dir to ``--kmeans_model`` / ``--kmeans`` and no pickle is opened again.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional

from espnet_spire.common.cli import run_cli, setup_logging

logger = logging.getLogger("convert_kmeans")


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m espnet_spire.bin.convert_kmeans", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("pickle", help="joblib pickle of a (MiniBatch)KMeans (e.g. SpireKMeans' kmeans_model)")
    p.add_argument("output_dir", help="dir to write centers.npy and kmeans.json into")
    p.add_argument("--log_level", default="INFO")
    return p


def convert(pickle_path: str, output_dir: str) -> None:
    """Load ``pickle_path`` (trusted by the caller) and write its centres in the safe format."""
    from espnet_spire.units.kmeans import load_kmeans, write_safe_kmeans
    from espnet_spire.units.kmeans_facts import make_kmeans_facts

    model = load_kmeans(pickle_path, trust_pickle=True)
    facts = make_kmeans_facts(model.num_units, model.dim, model.sha256, None, None, None)
    write_safe_kmeans(output_dir, model.centers, facts)
    logger.info("wrote %s (K=%d, D=%d, sha256 %s): load it without --trust_pickle",
                output_dir, model.num_units, model.dim, model.sha256[:12])


def main(argv: Optional[List[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    return run_cli(lambda: convert(args.pickle, args.output_dir), logger)


if __name__ == "__main__":
    sys.exit(main())
