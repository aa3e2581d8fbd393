"""Stage 4: learn the k-means codebook from the stage-3 feature dump.

Memory is bounded by the dump (memory-mapped) plus one mini-batch; see
:mod:`espnet_spire.units.kmeans`. The output dir holds ``kmeans.joblib`` (sklearn
MiniBatchKMeans, loadable by SpireLM), ``centers.npy``, ``kmeans.json`` (K, dim, feature type,
SSL model name and hashes, layer: the facts later stages read) and ``provenance.json``. A
finished run with the same inputs and settings is skipped.

Usage::

    python -m espnet_spire.bin.learn_kmeans --feats exp/kmeans_feats \
        --output_dir exp/kmeans/hubert_large_l22_k5000 --n_clusters 5000 --batch_size 20000 \
        --max_iter 20 --tol 1e-4 --init k-means++ --seed 0 --backend sklearn
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import List, Optional

from espnet_spire.units.options import add_common_args, setup

logger = logging.getLogger("learn_kmeans")


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m espnet_spire.bin.learn_kmeans",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--feats", nargs="+", required=True,
        help="Stage-3 dump dir(s) with output.*/ jobs, job dirs, .npy or Kaldi .scp files",
    )
    parser.add_argument("--output_dir", required=True, help="k-means artifact dir")
    parser.add_argument("--n_clusters", type=int, default=5000, help="K (SPIRE: 5000)")
    parser.add_argument("--batch_size", type=int, default=20000, help="Frames per mini-batch (>= K)")
    parser.add_argument("--max_iter", type=int, default=20, help="Passes over the sampled frames")
    parser.add_argument("--tol", type=float, default=1e-4, help="Stop when a pass moves centroids less (0: never)")
    parser.add_argument("--init", default="k-means++", choices=["k-means++", "random"],
                        help="sklearn backend only (faiss: random)")
    parser.add_argument("--init_size", type=int, default=None, help="Frames for the init (default max(3*batch, 3*K))")
    parser.add_argument("--max_frames", type=int, default=0, help="Use at most this many dumped frames (0: all)")
    parser.add_argument("--reassignment_ratio", type=float, default=0.01)
    parser.add_argument("--backend", default="sklearn", choices=["sklearn", "faiss"])
    parser.add_argument("--max_points_per_centroid", type=int, default=256, help="faiss subsampling")
    add_common_args(parser)
    return parser


def _fingerprint(path: str) -> str:
    """Identity of one input: the stage-3 job signature when present, else the file's sha256."""
    from espnet_spire.common import jobs
    from espnet_spire.common.hashing import sha256_file

    done = jobs.read_done(os.path.dirname(os.path.abspath(path)))
    return done["signature"] if done else sha256_file(path)


def main(argv: Optional[List[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup(args)
    from espnet_spire.common import jobs
    from espnet_spire.units.featdump import dump_configs, find_dumps, load_store
    from espnet_spire.units.features import IDENTITY_KEYS
    from espnet_spire.units.kmeans import KMeansConfig, learn_kmeans, save_kmeans

    cfg = KMeansConfig(
        n_clusters=args.n_clusters,
        batch_size=args.batch_size,
        max_iter=args.max_iter,
        tol=args.tol,
        init=args.init,
        init_size=args.init_size,
        max_frames=args.max_frames,
        reassignment_ratio=args.reassignment_ratio,
        seed=args.seed,
        backend=args.backend,
        max_points_per_centroid=args.max_points_per_centroid,
    )
    try:
        files = find_dumps(args.feats)
        configs = dump_configs(files)
        descs = [c["feature"] for c in configs]
        identities = {jobs.signature({k: d.get(k) for k in IDENTITY_KEYS}) for d in descs}
        if len(identities) > 1:
            raise jobs.JobError(f"the feature dumps were made with different feature settings: {files}")
        feature = descs[0] if descs else None
        if feature is None:
            logger.warning("no feature_config.json next to %s: provenance will lack the feature settings", files)
        sig = jobs.signature({"kmeans": vars(cfg), "inputs": [_fingerprint(f) for f in files]})
        if jobs.finished_summary(args.output_dir, sig) is not None:
            return 0
        store = load_store(files)
        logger.info("%d frames of dimension %d from %d file(s)", store.num_frames, store.dim, len(files))
        km, stats = learn_kmeans(store, cfg)
        dumps = [{k: c.get(k) for k in ("file", "sampling", "summary")} for c in configs]
        save_kmeans(km, args.output_dir, cfg, stats, feature, files, dumps=dumps)
        jobs.mark_done(args.output_dir, sig, {"num_units": cfg.n_clusters, "frames_used": stats["frames_used"]})
    except (jobs.JobError, FileNotFoundError, ValueError) as exc:
        logger.debug("details", exc_info=True)
        logger.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
