"""Learning, saving and loading the k-means codebook that turns features into unit ids.

**Learning** (:func:`learn_kmeans`) never needs more memory than the sampled frames (a
memory-mapped dump, see :mod:`.featdump`) plus one mini-batch:

* ``sklearn`` backend: initial centroids from k-means++ (or random rows) on an ``init_size``
  random sample drawn from the *whole* dump, then ``MiniBatchKMeans.partial_fit`` over shuffled
  mini-batches for ``max_iter`` passes, stopping early when a pass moves the centroids by less
  than ``tol`` (relative Frobenius norm). (Plain ``partial_fit`` would run k-means++ on the first
  mini-batch only.)
* ``faiss`` backend: ``faiss.Kmeans`` (Lloyd iterations, random init from the sample, its own
  subsampling to ``max_points_per_centroid x K`` rows) on the sampled frames held in memory.

**Artifact** (:func:`save_kmeans`), one directory:

* ``kmeans.joblib``: a fitted ``sklearn.cluster.MiniBatchKMeans`` whose ``cluster_centers_`` is
  K x D float32, so SpireLM's tools can ``joblib.load`` it (for faiss, a MiniBatchKMeans object
  carrying the faiss centroids);
* ``centers.npy``: the same centroids, float32 (the version-independent copy we load by default);
* ``kmeans.json``: the path-free facts later stages read (K, dim, feature type, SSL model name and
  hashes, layer, backend, seed; :mod:`.kmeans_facts`);
* ``provenance.json``: feature description (type, SSL model dir and content hashes, layer, ...),
  k-means settings, frames used, seed, library versions, sha256 of the centroids.

**Loading** (:func:`load_kmeans`) accepts that directory, a ``centers.npy``, or any joblib pickle
of a (MiniBatch)KMeans, e.g. the released ``utter-project/SpireKMeans`` file ``kmeans_model``.
Unpickling runs code from the file before any type check, so a directory is read from its
``centers.npy`` (never its pickle) and a bare pickle is loaded only with ``trust_pickle=True``
(``--trust_pickle true`` on the CLIs), with a warning naming the file;
``python -m espnet_spire.bin.convert_kmeans`` turns a trusted pickle into the safe format once.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from espnet_spire.common.fileio import atomic_path, read_json, write_json
from espnet_spire.common.hashing import sha256_array
from espnet_spire.common.jobs import progress
from espnet_spire.common.registry import Registry
from espnet_spire.units.features import IDENTITY_KEYS
from espnet_spire.units.kmeans_facts import FACTS_NAME, make_kmeans_facts
from espnet_spire.units.provenance import library_versions

logger = logging.getLogger(__name__)

INITS = ("k-means++", "random")
JOBLIB_NAME = "kmeans.joblib"
CENTERS_NAME = "centers.npy"
PROVENANCE_NAME = "provenance.json"

# name -> ``learn(store, subset, cfg, rng, show_progress) -> (fitted MiniBatchKMeans, stats)``.
KMEANS_BACKENDS: Registry[Callable[..., Tuple[object, Dict[str, object]]]] = Registry("k-means backend")


@dataclass
class KMeansConfig:
    """K-means settings; SpireLM used K=5000, batch 20000, k-means++, reassignment 0.01."""

    n_clusters: int = 5000
    batch_size: int = 20000
    max_iter: int = 20  # passes over the sampled frames
    tol: float = 1e-4  # early stop on relative centroid change per pass (0: run all passes)
    init: str = "k-means++"
    init_size: Optional[int] = None  # frames for the init; default max(3*batch_size, 3*K)
    max_frames: int = 0  # use at most this many of the dumped frames (0: all)
    reassignment_ratio: float = 0.01
    seed: int = 0
    backend: str = "sklearn"
    max_points_per_centroid: int = 256  # faiss only

    def validate(self, num_frames: int) -> None:
        if self.n_clusters < 1:
            raise ValueError(f"n_clusters must be >= 1, got {self.n_clusters}")
        KMEANS_BACKENDS.get(self.backend)  # unknown names raise with the valid ones
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {self.init!r}")
        if self.max_iter < 1:
            raise ValueError(f"max_iter (passes) must be >= 1, got {self.max_iter}")
        if self.backend == "sklearn" and self.batch_size < self.n_clusters:
            raise ValueError(
                f"batch_size {self.batch_size} < n_clusters {self.n_clusters}: every mini-batch must be "
                "able to touch every centroid; raise --batch_size"
            )
        if num_frames < self.n_clusters:
            raise ValueError(f"only {num_frames} frames for {self.n_clusters} clusters; dump more frames")


@dataclass
class KMeansModel:
    """Centroids plus where they came from."""

    centers: np.ndarray  # K x D float32
    source: str
    provenance: Optional[Dict[str, object]] = None
    sha256: str = field(default="")

    def __post_init__(self) -> None:
        self.sha256 = sha256_array(self.centers)

    @property
    def num_units(self) -> int:
        return int(self.centers.shape[0])

    @property
    def dim(self) -> int:
        return int(self.centers.shape[1])

    def check_dim(self, dim: int) -> None:
        """Fail with a message naming the k-means file when feature and centroid sizes differ."""
        if dim != self.dim:
            raise ValueError(
                f"k-means model {self.source} has {self.num_units} centroids of dimension {self.dim}, "
                f"but the features have dimension {dim}: wrong k-means model or feature settings"
            )

    def check_features(self, identity: Dict[str, object]) -> None:
        """Compare the feature settings recorded at learning time with the labeller's."""
        self.check_dim(int(identity["dim"]))
        feat = (self.provenance or {}).get("feature")
        if not feat:
            logger.warning(
                "k-means model %s has no provenance: cannot check that it was learnt on %s features "
                "(layer %s); make sure they match",
                self.source,
                identity.get("feature_type"),
                identity.get("layer"),
            )
            return
        diff = [
            f"{k}: learnt with {feat.get(k)!r}, labelling with {identity.get(k)!r}"
            for k in IDENTITY_KEYS
            if k in feat and feat.get(k) != identity.get(k)
        ]
        if diff:
            raise ValueError(
                f"k-means model {self.source} was learnt on different features ("
                + "; ".join(diff)
                + "). Use the matching model/layer, or pass --check_provenance false to override."
            )


# ---------------------------------------------------------------------------- learning
def _rel_change(new: np.ndarray, old: np.ndarray) -> float:
    return float(np.linalg.norm(new - old) / max(np.linalg.norm(old), 1e-12))


def mean_sq_distance(centers: np.ndarray, x: np.ndarray) -> float:
    """Average squared distance of rows of ``x`` to their nearest centroid (per-frame inertia)."""
    from espnet_spire.units.assign import Assigner

    assigner = Assigner(centers)
    total = 0.0
    for s in range(0, x.shape[0], 10000):  # blockwise: no full-size temporaries
        block = x[s : s + 10000]
        total += float(np.sum((block - centers[assigner(block)]) ** 2, dtype=np.float64))
    return total / max(x.shape[0], 1)


def learn_kmeans(store, cfg: KMeansConfig, show_progress: bool = True):
    """Fit centroids on a :class:`~espnet_spire.units.featdump.FrameStore`.

    Returns ``(MiniBatchKMeans, stats)``; the estimator is fitted (``predict`` works) and its
    ``cluster_centers_`` are float32.
    """
    cfg.validate(store.num_frames)
    rng = np.random.default_rng(cfg.seed)
    if cfg.max_frames and cfg.max_frames < store.num_frames:
        subset = np.sort(rng.choice(store.num_frames, cfg.max_frames, replace=False))
    else:
        subset = np.arange(store.num_frames, dtype=np.int64)
    cfg.validate(subset.size)
    t0 = time.time()
    km, stats = KMEANS_BACKENDS.get(cfg.backend)(store, subset, cfg, rng, show_progress)
    eval_idx = np.sort(rng.choice(subset, min(subset.size, 50000), replace=False))
    stats.update(
        frames_available=int(store.num_frames),
        frames_used=int(subset.size),
        seconds=round(time.time() - t0, 3),
        mean_sq_distance=mean_sq_distance(km.cluster_centers_, store.gather(eval_idx)),
    )
    logger.info("k-means done: %s", stats)
    return km, stats


@KMEANS_BACKENDS.register("sklearn")
def _learn_sklearn(store, subset, cfg: KMeansConfig, rng, show_progress: bool):
    """Streaming ``MiniBatchKMeans`` passes over the sample (SpireLM's recipe)."""
    from sklearn.cluster import MiniBatchKMeans, kmeans_plusplus

    K = cfg.n_clusters
    init_size = cfg.init_size or max(3 * cfg.batch_size, 3 * K)
    init_size = min(max(init_size, K), subset.size)
    x_init = store.gather(np.sort(rng.choice(subset, init_size, replace=False)))
    if cfg.init == "k-means++":
        logger.info("k-means++ init of %d centroids on %d frames", K, init_size)
        centers0, _ = kmeans_plusplus(x_init, K, random_state=cfg.seed)
    else:
        centers0 = x_init[np.sort(rng.choice(init_size, K, replace=False))]
    del x_init
    km = MiniBatchKMeans(
        n_clusters=K,
        init=np.asarray(centers0, dtype=np.float32),
        n_init=1,
        batch_size=cfg.batch_size,
        compute_labels=False,
        random_state=cfg.seed,
        reassignment_ratio=cfg.reassignment_ratio,
        max_no_improvement=None,
        tol=0.0,
    )
    n_batches = max(1, subset.size // cfg.batch_size)  # near-equal batches, none smaller than K
    passes, shift = 0, float("nan")
    for p in range(cfg.max_iter):
        before = None if p == 0 else km.cluster_centers_.copy()
        perm = rng.permutation(subset)
        bar = progress(np.array_split(perm, n_batches), desc=f"k-means pass {p + 1}", unit="batch",
                       disable=not show_progress)
        for idx in bar:
            km.partial_fit(store.gather(idx))
        passes = p + 1
        if before is not None:
            shift = _rel_change(km.cluster_centers_, before)
            logger.info("pass %d: relative centroid change %.3g", passes, shift)
            if cfg.tol > 0 and shift < cfg.tol:
                break
    km.init = cfg.init  # keep the pickle small: the init array is not needed after fitting
    km.cluster_centers_ = np.ascontiguousarray(km.cluster_centers_, dtype=np.float32)
    return km, {"passes": passes, "last_relative_change": shift, "steps": int(km.n_steps_)}


@KMEANS_BACKENDS.register("faiss")
def _learn_faiss(store, subset, cfg: KMeansConfig, rng, show_progress: bool):
    """Lloyd iterations of ``faiss.Kmeans`` on the whole sample in memory."""
    import faiss

    x = store.gather(subset)
    kmf = faiss.Kmeans(
        x.shape[1],
        cfg.n_clusters,
        niter=cfg.max_iter,
        seed=cfg.seed,
        max_points_per_centroid=cfg.max_points_per_centroid,
        verbose=False,
    )
    kmf.train(x)
    centers = np.ascontiguousarray(kmf.centroids, dtype=np.float32)
    km = sklearn_model_from_centers(centers, seed=cfg.seed, batch_size=cfg.batch_size)
    km.n_iter_ = cfg.max_iter
    return km, {"passes": cfg.max_iter, "faiss_objective": [float(v) for v in kmf.obj[-1:]]}


def sklearn_model_from_centers(centers: np.ndarray, seed: int = 0, batch_size: int = 20000):
    """A fitted-looking ``MiniBatchKMeans`` carrying given centroids (``predict`` works).

    Sets the attributes ``predict`` reads in scikit-learn 1.x; the round trip is tested.
    """
    from sklearn.cluster import MiniBatchKMeans

    try:
        from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

        n_threads = _openmp_effective_n_threads()
    except ImportError:  # pragma: no cover
        n_threads = os.cpu_count() or 1
    centers = np.ascontiguousarray(centers, dtype=np.float32)
    km = MiniBatchKMeans(n_clusters=centers.shape[0], init="random", n_init=1, batch_size=batch_size, random_state=seed)
    km.cluster_centers_ = centers
    km.n_features_in_ = centers.shape[1]
    km._n_threads = n_threads
    km._n_features_out = centers.shape[0]
    km.n_steps_ = 0
    km.n_iter_ = 0
    return km


# ---------------------------------------------------------------------------- saving / loading
def save_kmeans(
    km,
    output_dir: str,
    cfg: KMeansConfig,
    stats: Dict[str, object],
    feature: Optional[Dict[str, object]],
    sources: List[str],
    dumps: Optional[List[Dict[str, object]]] = None,
) -> Dict[str, object]:
    """Write ``kmeans.joblib``, ``centers.npy``, ``kmeans.json`` and ``provenance.json``; returns the provenance.

    ``dumps`` carries the stage-3 sampling settings and counts of each input (portion, seed,
    frames seen/kept) so the artifact says what data it was learnt on.
    """
    import joblib

    os.makedirs(output_dir, exist_ok=True)
    centers = np.ascontiguousarray(km.cluster_centers_, dtype=np.float32)
    with atomic_path(os.path.join(output_dir, JOBLIB_NAME)) as tmp:
        joblib.dump(km, tmp)
    prov = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "num_units": int(centers.shape[0]),
        "dim": int(centers.shape[1]),
        "centers_sha256": sha256_array(centers),
        "centers_sha256_definition": "sha256 of the K x D float32 little-endian C-order bytes",
        "feature": feature,
        "kmeans": asdict(cfg),
        "stats": stats,
        "sources": [os.path.abspath(s) for s in sources],
        "dumps": dumps or [],
        "versions": library_versions(),
    }
    write_json(os.path.join(output_dir, PROVENANCE_NAME), prov)
    facts = make_kmeans_facts(centers.shape[0], centers.shape[1], prov["centers_sha256"], feature,
                              cfg.backend, cfg.seed)
    write_safe_kmeans(output_dir, centers, facts)
    return prov


PICKLE_NAMES = (JOBLIB_NAME, "kmeans_model", "kmeans_model.joblib")


class UntrustedPickleError(ValueError):
    """A k-means model that exists only as a pickle was given without ``trust_pickle``."""


def _centers_from_pickle(path: str, trust_pickle: bool) -> Tuple[np.ndarray, str]:
    """Centroids of a joblib (MiniBatch)KMeans pickle; refused unless the caller trusts the file."""
    import warnings

    if not trust_pickle:
        raise UntrustedPickleError(
            f"{path} is a pickle (joblib): loading it runs code stored in the file, before any check of "
            "what it holds. If you trust where it comes from, pass --trust_pickle true (Python: "
            f"trust_pickle=True), or convert it once with `python -m espnet_spire.bin.convert_kmeans {path} "
            "OUT_DIR` and use OUT_DIR (centers.npy + kmeans.json, loaded without pickle)")
    import joblib

    logger.warning("unpickling the k-means model %s (--trust_pickle true): this runs code from the file", path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        obj = joblib.load(path)
    for w in caught:  # e.g. InconsistentVersionWarning: pickled with another scikit-learn
        logger.warning("%s: %s", path, w.message)
    centers = getattr(obj, "cluster_centers_", None)
    if centers is None:
        raise ValueError(f"{path}: unpickled a {type(obj).__name__}, which has no cluster_centers_")
    return np.asarray(centers), type(obj).__name__


def load_kmeans(path: str, trust_pickle: bool = False) -> KMeansModel:
    """Load centroids from a k-means dir, a ``.npy`` file, or (trusted only) a joblib (MiniBatch)KMeans pickle.

    A dir is read from its ``centers.npy`` when it has one, so its pickle is never opened; a
    pickle (a bare file, or a dir holding nothing else) needs ``trust_pickle=True``, else
    :class:`UntrustedPickleError` says why and how to convert it.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"k-means model not found: {path}")
    provenance = None
    if os.path.isdir(path):
        prov_path = os.path.join(path, PROVENANCE_NAME)
        provenance = read_json(prov_path) if os.path.isfile(prov_path) else None
        for name in (CENTERS_NAME, *PICKLE_NAMES):
            if os.path.isfile(os.path.join(path, name)):
                path = os.path.join(path, name)
                break
        else:
            raise FileNotFoundError(f"{path}: no {CENTERS_NAME}, {JOBLIB_NAME} or kmeans_model inside")
    elif os.path.isfile(os.path.join(os.path.dirname(path), PROVENANCE_NAME)):
        provenance = read_json(os.path.join(os.path.dirname(path), PROVENANCE_NAME))
    if path.endswith(".npy"):
        centers, kind = np.load(path, allow_pickle=False), "npy"
    else:
        centers, kind = _centers_from_pickle(path, trust_pickle)
    if centers.ndim != 2 or centers.shape[0] < 1 or centers.shape[1] < 1:
        raise ValueError(f"{path}: centroids must be a K x D matrix, got shape {centers.shape}")
    if not np.all(np.isfinite(centers)):
        raise ValueError(f"{path}: centroids contain NaN or Inf")
    if centers.dtype != np.float32:
        logger.info("%s: centroids are %s, using them as float32", path, centers.dtype)
    model = KMeansModel(np.ascontiguousarray(centers, dtype=np.float32), os.path.abspath(path), provenance)
    if provenance and provenance.get("centers_sha256") not in (None, model.sha256):
        raise ValueError(
            f"{path}: centroids do not match {PROVENANCE_NAME} next to them (sha256 "
            f"{model.sha256[:12]} vs {str(provenance['centers_sha256'])[:12]}): mixed-up artifacts"
        )
    logger.info("Loaded k-means %s (%s): K=%d, D=%d, sha256 %s",
                path, kind, model.num_units, model.dim, model.sha256[:12])
    return model


def write_safe_kmeans(output_dir: str, centers: np.ndarray, facts: Dict[str, object]) -> None:
    """Write the pickle-free k-means format: ``centers.npy`` and its ``kmeans.json`` facts."""
    os.makedirs(output_dir, exist_ok=True)
    with atomic_path(os.path.join(output_dir, CENTERS_NAME)) as tmp:
        np.save(tmp, np.ascontiguousarray(centers, dtype=np.float32))
    write_json(os.path.join(output_dir, FACTS_NAME), facts)


def read_kmeans_facts(path: str, trust_pickle: bool = False) -> Dict[str, object]:
    """K, dim, centroid hash and (when recorded) feature settings of any k-means model we can load.

    ``path`` is our k-means dir (``kmeans.json``, or ``provenance.json`` of older runs), a bare
    joblib pickle such as SPIRE's released ``kmeans_model`` (K from its centres), or a
    ``centers.npy``. The centres are always loaded (a pickle only with ``trust_pickle``, see
    :func:`load_kmeans`), so a record that disagrees with them is refused.
    """
    model = load_kmeans(path, trust_pickle)
    directory = path if os.path.isdir(path) else os.path.dirname(path)
    facts_path = os.path.join(directory, FACTS_NAME)
    if os.path.isfile(facts_path):
        facts = read_json(facts_path)
        if facts.get("centers_sha256") != model.sha256:
            recorded = str(facts.get("centers_sha256"))[:12]
            raise ValueError(f"{facts_path} does not describe the centroids next to it "
                             f"(sha256 {recorded} vs {model.sha256[:12]}): mixed-up artifacts")
        return facts
    prov = model.provenance or {}
    settings = prov.get("kmeans") or {}
    return make_kmeans_facts(model.num_units, model.dim, model.sha256, prov.get("feature"),
                             settings.get("backend"), settings.get("seed"))
