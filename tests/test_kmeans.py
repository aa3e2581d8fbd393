"""k-means artifact, loading, assignment (compat vector 10), sampling and determinism."""

import json
import os

import joblib
import numpy as np
import pytest

from espnet_spire.units.assign import Assigner
from espnet_spire.units.featdump import FrameStore, load_store
from espnet_spire.units.kmeans import (
    KMeansConfig,
    learn_kmeans,
    load_kmeans,
    save_kmeans,
    sklearn_model_from_centers,
)
from espnet_spire.units.sampling import FrameReservoir, keep_utterance


def blobs(n=3000, d=6, k=12, seed=0):
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=4.0, size=(k, d))
    x = means[rng.integers(0, k, n)] + rng.normal(size=(n, d))
    return x.astype(np.float32)


def small_cfg(**kw):
    base = dict(n_clusters=12, batch_size=256, max_iter=3, tol=0.0, seed=0)
    base.update(kw)
    return KMeansConfig(**base)


@pytest.mark.parametrize("backend", ["torch", "faiss"])
def test_vector10_assignment_and_ties(backend):
    centers = np.array([[0, 0], [1, 0], [0, 1]], dtype=np.float32)
    a = Assigner(centers, backend=backend)
    assert a(np.array([[0.6, 0.1]], dtype=np.float32)).tolist() == [1]
    if backend == "torch":  # exact three-way tie at 0.5: the first index wins
        assert a(np.array([[0.5, 0.5]], dtype=np.float32)).tolist() == [0]


def test_assignment_matches_sklearn_predict_and_is_chunked():
    x = blobs(n=5000, d=16, k=40)
    km = sklearn_model_from_centers(x[:40] + 0.01)
    ref = km.predict(x)
    assert np.array_equal(Assigner(km.cluster_centers_, chunk_size=333)(x), ref)
    assert np.array_equal(Assigner(km.cluster_centers_, backend="faiss")(x), ref)
    bf16 = Assigner(km.cluster_centers_, dtype="bf16")(x)
    assert (bf16 == ref).mean() > 0.9


@pytest.mark.parametrize("backend", ["sklearn", "faiss"])
def test_artifact_joblib_gives_same_labels(tmp_path, backend):
    x = blobs()
    store = FrameStore([x[:1000], x[1000:]])
    km, stats = learn_kmeans(store, small_cfg(backend=backend), show_progress=False)
    prov = save_kmeans(km, str(tmp_path), small_cfg(backend=backend), stats, {"feature_type": "mfcc", "dim": 6}, [])
    assert sorted(os.listdir(tmp_path)) == ["centers.npy", "kmeans.joblib", "kmeans.json", "provenance.json"]
    loaded = joblib.load(tmp_path / "kmeans.joblib")  # what SpireLM's tools do
    assert type(loaded).__name__ == "MiniBatchKMeans"
    assert loaded.cluster_centers_.dtype == np.float32 and loaded.cluster_centers_.shape == (12, 6)
    model = load_kmeans(str(tmp_path))
    assert model.source.endswith("centers.npy") and model.sha256 == prov["centers_sha256"]
    assert np.array_equal(loaded.predict(x), Assigner(model.centers)(x))
    assert np.array_equal(load_kmeans(str(tmp_path / "kmeans.joblib"), trust_pickle=True).centers, model.centers)
    p = json.loads((tmp_path / "provenance.json").read_text())
    assert p["num_units"] == 12 and p["kmeans"]["seed"] == 0 and "scikit-learn" in p["versions"]
    assert stats["frames_used"] == 3000 and stats["mean_sq_distance"] < 10


def test_load_spire_style_pickle_without_extension(tmp_path):
    """Like utter-project/SpireKMeans 'kmeans_model': a bare joblib pickle, maybe float64."""
    from sklearn.cluster import KMeans

    x = blobs().astype(np.float64)
    km = KMeans(n_clusters=5, n_init=1, random_state=0).fit(x[:500])
    joblib.dump(km, tmp_path / "kmeans_model")
    model = load_kmeans(str(tmp_path / "kmeans_model"), trust_pickle=True)
    assert model.centers.dtype == np.float32 and model.num_units == 5 and model.provenance is None
    assert np.array_equal(load_kmeans(str(tmp_path), trust_pickle=True).centers, model.centers)  # dir lookup
    assert (km.predict(x) == Assigner(model.centers)(x.astype(np.float32))).mean() > 0.999
    joblib.dump({"not": "kmeans"}, tmp_path / "bad")
    with pytest.raises(ValueError, match="cluster_centers_"):
        load_kmeans(str(tmp_path / "bad"), trust_pickle=True)


def test_dimension_mismatch_names_the_file(tmp_path):
    np.save(tmp_path / "centers.npy", np.zeros((4, 39), dtype=np.float32))
    model = load_kmeans(str(tmp_path / "centers.npy"))
    with pytest.raises(ValueError, match=r"centers\.npy.*dimension 39.*dimension 1024"):
        model.check_dim(1024)
    with pytest.raises(ValueError, match="dimension"):
        Assigner(model.centers)(np.zeros((3, 40), dtype=np.float32))
    with pytest.raises(FileNotFoundError, match="k-means model not found: .*missing.npy"):
        load_kmeans(str(tmp_path / "missing.npy"))


def test_provenance_checks(tmp_path):
    x = blobs()
    km = sklearn_model_from_centers(x[:12])
    feature = {"feature_type": "hf_ssl", "dim": 6, "weights_sha256": "abc", "config_sha256": "def", "layer": 22,
               "normalize": True}
    save_kmeans(km, str(tmp_path), small_cfg(), {}, feature, [])
    model = load_kmeans(str(tmp_path))
    model.check_features(dict(feature))
    with pytest.raises(ValueError, match="layer: learnt with 22, labelling with 21"):
        model.check_features(dict(feature, layer=21))
    with pytest.raises(ValueError, match="weights_sha256"):
        model.check_features(dict(feature, weights_sha256="xyz"))
    # centroids swapped under the provenance file: refuse
    np.save(tmp_path / "centers.npy", x[12:24])
    with pytest.raises(ValueError, match="do not match"):
        load_kmeans(str(tmp_path))


def test_determinism_with_seed(tmp_path):
    x = blobs()
    np.save(tmp_path / "a.npy", x)
    store = load_store([str(tmp_path / "a.npy")])  # memory-mapped
    c1 = learn_kmeans(store, small_cfg(seed=3), show_progress=False)[0].cluster_centers_
    c2 = learn_kmeans(store, small_cfg(seed=3), show_progress=False)[0].cluster_centers_
    c3 = learn_kmeans(store, small_cfg(seed=4), show_progress=False)[0].cluster_centers_
    assert np.array_equal(c1, c2)
    assert not np.array_equal(c1, c3)
    # max_frames subsamples; early stop on tol
    km, stats = learn_kmeans(store, small_cfg(max_frames=1000, max_iter=50, tol=1e-3), show_progress=False)
    assert stats["frames_used"] == 1000 and stats["passes"] < 50


def test_config_errors():
    store = FrameStore([blobs(n=100)])
    with pytest.raises(ValueError, match="batch_size"):
        learn_kmeans(store, small_cfg(batch_size=5), show_progress=False)
    with pytest.raises(ValueError, match="frames"):
        learn_kmeans(store, small_cfg(n_clusters=200, batch_size=400), show_progress=False)


def test_frame_store_gather():
    a, b = np.arange(12, dtype=np.float32).reshape(6, 2), 100 + np.arange(8, dtype=np.float32).reshape(4, 2)
    store = FrameStore([a, np.zeros((0, 2), np.float32), b])
    full = np.concatenate([a, b])
    idx = np.array([9, 0, 6, 5, 9, 2])
    assert np.array_equal(store.gather(idx), full[idx])


def _reference_reservoir(blocks, capacity, seed):
    """Row-by-row algorithm R, consuming random numbers exactly like FrameReservoir."""
    rng = np.random.default_rng(seed)
    res, seen = [], 0
    for block in blocks:
        take = min(capacity - len(res), len(block))
        res.extend(block[:take])
        rest = len(block) - take
        if rest:
            u = rng.random(rest)
            for j in range(rest):
                t = seen + take + j
                r = int(u[j] * (t + 1))
                if r < capacity:
                    res[r] = block[take + j]
        seen += len(block)
    return np.array(res)


def test_reservoir_is_algorithm_r():
    rng = np.random.default_rng(1)
    blocks = [rng.normal(size=(int(rng.integers(1, 60)), 3)).astype(np.float32) for _ in range(40)]
    for cap in (1, 7, 50, 5000):
        r = FrameReservoir(cap, 3, seed=5)
        for i, b in enumerate(blocks):
            r.add(b, i)
        ref = _reference_reservoir(blocks, cap, 5)
        assert np.array_equal(r.data[: r.filled], ref)
        feats, utt, frame = r.sorted_sample()
        assert np.array_equal(feats, np.stack([blocks[u][f] for u, f in zip(utt, frame)]))
    # uniform over the stream, not biased to its start
    r = FrameReservoir(500, 1, seed=0)
    for i in range(100):
        r.add(np.full((100, 1), i, dtype=np.float32), i)
    assert 40 < r.data[:, 0].mean() < 60


def test_keep_utterance_is_order_free_and_seeded():
    ids = [f"utt{i:04d}" for i in range(2000)]
    kept = [u for u in ids if keep_utterance(u, 0.25, seed=0)]
    assert 400 < len(kept) < 600
    assert kept == [u for u in reversed(ids) if keep_utterance(u, 0.25, seed=0)][::-1]
    assert kept != [u for u in ids if keep_utterance(u, 0.25, seed=1)]
    assert all(keep_utterance(u, 1.0, 0) for u in ids[:10])
