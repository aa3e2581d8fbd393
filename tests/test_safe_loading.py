"""Issue #15 item 9: k-means pickles are unpickled only when trusted, checkpoints only as weights.

The malicious payloads create a marker file when unpickled; a refused load must leave no marker,
and the trusted path shows that the payload is real (the marker appears)."""

import os

import joblib
import numpy as np
import pytest
import torch

from espnet_spire.units.kmeans import (
    KMeansConfig,
    UntrustedPickleError,
    load_kmeans,
    read_kmeans_facts,
    save_kmeans,
    sklearn_model_from_centers,
)


class _Payload:
    """Unpickling this opens (creates) ``marker``: stands for any code a pickle may run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _real_minibatch_joblib(path, k=6, d=4):
    from sklearn.cluster import MiniBatchKMeans

    x = np.random.default_rng(0).normal(size=(300, d)).astype(np.float32)
    km = MiniBatchKMeans(n_clusters=k, n_init=1, random_state=0, batch_size=64).fit(x)
    joblib.dump(km, path)
    return km


def test_malicious_pickle_is_refused_without_trust(tmp_path):
    marker = tmp_path / "pwned"
    joblib.dump(_Payload(marker), tmp_path / "kmeans_model")
    with pytest.raises(UntrustedPickleError, match="kmeans_model is a pickle.*--trust_pickle true.*convert_kmeans"):
        load_kmeans(str(tmp_path / "kmeans_model"))
    with pytest.raises(UntrustedPickleError, match="runs code"):
        read_kmeans_facts(str(tmp_path))  # a dir holding only the pickle: same refusal
    assert not marker.exists()
    with pytest.raises(ValueError, match="no cluster_centers_"):  # trusted: the payload runs
        load_kmeans(str(tmp_path / "kmeans_model"), trust_pickle=True)
    assert marker.exists()


def test_trusted_pickle_loads_with_a_warning_naming_the_file(tmp_path, caplog):
    km = _real_minibatch_joblib(tmp_path / "kmeans.joblib")
    model = load_kmeans(str(tmp_path / "kmeans.joblib"), trust_pickle=True)
    assert np.array_equal(model.centers, km.cluster_centers_.astype(np.float32))
    assert f"unpickling the k-means model {tmp_path / 'kmeans.joblib'}" in caplog.text
    assert "WARNING" in [r.levelname for r in caplog.records if "unpickling" in r.getMessage()]


def test_safe_format_dir_never_opens_its_pickle(tmp_path):
    centers = np.random.default_rng(1).normal(size=(7, 4)).astype(np.float32)
    save_kmeans(sklearn_model_from_centers(centers), str(tmp_path), KMeansConfig(n_clusters=7), {},
                {"feature_type": "mfcc", "dim": 4, "layer": None}, [])
    marker = tmp_path / "pwned"
    joblib.dump(_Payload(marker), tmp_path / "kmeans.joblib")  # a swapped pickle next to the safe files
    assert np.array_equal(load_kmeans(str(tmp_path)).centers, centers)
    assert read_kmeans_facts(str(tmp_path))["num_units"] == 7
    assert not marker.exists()


def test_convert_kmeans_writes_the_safe_format(tmp_path):
    from espnet_spire.bin import convert_kmeans

    km = _real_minibatch_joblib(tmp_path / "kmeans_model", k=5)
    out = tmp_path / "converted"
    assert convert_kmeans.main([str(tmp_path / "kmeans_model"), str(out)]) == 0
    assert sorted(os.listdir(out)) == ["centers.npy", "kmeans.json"]
    model = load_kmeans(str(out))  # no trust needed any more
    assert np.array_equal(model.centers, km.cluster_centers_.astype(np.float32))
    assert read_kmeans_facts(str(out))["num_units"] == 5
    assert convert_kmeans.main([str(tmp_path / "missing"), str(tmp_path / "x")]) == 1


def test_stage6_cli_refuses_an_untrusted_pickle(tmp_path, caplog):
    from espnet_spire.bin import extend_tokenizer

    _real_minibatch_joblib(tmp_path / "kmeans_model")
    assert extend_tokenizer.main(["--base_dir", str(tmp_path / "base"), "--output_dir", str(tmp_path / "tok"),
                                  "--kmeans", str(tmp_path / "kmeans_model")]) == 1
    assert f"{tmp_path / 'kmeans_model'} is a pickle" in caplog.text and "--trust_pickle true" in caplog.text
    assert not (tmp_path / "tok").exists()


def test_checkpoint_needing_pickle_fails_without_fallback(tmp_path):
    from espnet_spire.train.export import load_state_dict

    state = {"lm.w": torch.arange(4.0)}
    torch.save(state, tmp_path / "3epoch.pth")
    assert torch.equal(load_state_dict(tmp_path / "3epoch.pth")["lm.w"], state["lm.w"])
    torch.save({"model": state}, tmp_path / "wrapped.pth")  # plain containers are fine
    assert torch.equal(load_state_dict(tmp_path / "wrapped.pth")["lm.w"], state["lm.w"])
    marker = tmp_path / "pwned"
    torch.save({"model": state, "reporter": _Payload(marker)}, tmp_path / "checkpoint.pth")
    with pytest.raises(ValueError, match=r"checkpoint\.pth holds pickled Python objects.*weights_only=True.*"
                                         r"epoch checkpoint"):
        load_state_dict(tmp_path / "checkpoint.pth")
    assert not marker.exists()
