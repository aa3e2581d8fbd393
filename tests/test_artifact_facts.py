"""Artifacts carry their facts: k-means K read from the model, stage 6 checks --num_units against it."""

import json
import os

import joblib
import numpy as np
import pytest

import lm_fixtures as F
from espnet_spire.units.kmeans import KMeansConfig, read_kmeans_facts, save_kmeans, sklearn_model_from_centers
from espnet_spire.units.kmeans_facts import FACTS_NAME


def _centers(k, d=6, seed=0):
    return np.random.default_rng(seed).normal(size=(k, d)).astype(np.float32)


@pytest.fixture(scope="module")
def km50(tmp_path_factory):
    """Our k-means dir with K=50 learnt on (pretend) HuBERT layer 22 features."""
    root = tmp_path_factory.mktemp("km")
    km = sklearn_model_from_centers(_centers(50))
    feature = {"feature_type": "hf_ssl", "ssl_model": "/models/hubert-large-ll60k", "layer": 22, "dim": 6,
               "config_sha256": "c" * 64, "weights_sha256": "w" * 64, "normalize": False}
    save_kmeans(km, str(root / "km"), KMeansConfig(n_clusters=50, seed=3), {}, feature, [])
    return str(root / "km")


def test_kmeans_dir_records_its_facts_without_paths(km50):
    text = open(os.path.join(km50, FACTS_NAME)).read()
    assert "/models" not in text
    facts = read_kmeans_facts(km50)
    assert (facts["num_units"], facts["dim"], facts["backend"], facts["seed"]) == (50, 6, "sklearn", 3)
    assert facts["feature"]["ssl_model"] == "hubert-large-ll60k" and facts["feature"]["layer"] == 22
    assert facts["feature"]["weights_sha256"] == "w" * 64 and facts["feature"]["feature_type"] == "hf_ssl"


def test_facts_of_bare_joblib_and_centers_npy(tmp_path):
    joblib.dump(sklearn_model_from_centers(_centers(7)), tmp_path / "kmeans_model")  # SpireKMeans style
    facts = read_kmeans_facts(str(tmp_path / "kmeans_model"), trust_pickle=True)
    assert (facts["num_units"], facts["dim"], facts["feature"]["ssl_model"]) == (7, 6, None)
    np.save(tmp_path / "centers.npy", _centers(9, d=4))
    assert read_kmeans_facts(str(tmp_path / "centers.npy"))["num_units"] == 9


def test_facts_that_disagree_with_the_centres_are_refused(km50, tmp_path):
    import shutil

    d = str(tmp_path / "km")
    shutil.copytree(km50, d)
    os.remove(os.path.join(d, "provenance.json"))
    np.save(os.path.join(d, "centers.npy"), _centers(50, seed=1))
    with pytest.raises(ValueError, match="does not describe the centroids"):
        read_kmeans_facts(d)


@pytest.fixture(scope="module")
def base_spm(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("base") / "base_model")
    F.train_spm(base, 1000)
    return base


def test_stage6_reads_k_from_the_kmeans_model(km50, base_spm, tmp_path):
    from espnet_spire.bin import extend_tokenizer

    out = str(tmp_path / "tok")
    assert extend_tokenizer.main(["--base_dir", base_spm, "--output_dir", out, "--kmeans", km50]) == 0
    for variant, template in (("base", False), ("instruct", True)):
        facts = json.load(open(os.path.join(out, variant, "spire.json")))
        assert facts["num_units"] == 50 and facts["chat_template"] is template
        assert facts["unit_ids"]["last"] - facts["unit_ids"]["first"] == 49
        assert facts["kmeans"]["feature"]["layer"] == 22 and facts["base"]["name"] == "base_model"
        assert str(tmp_path) not in json.dumps(facts) and base_spm not in json.dumps(facts)
    # a matching --num_units is only a check
    assert extend_tokenizer.main(["--base_dir", base_spm, "--output_dir", out, "--kmeans", km50,
                                  "--num_units", "50"]) == 0


@pytest.mark.fault
def test_stage6_stops_when_num_units_disagrees_with_the_kmeans_model(km50, base_spm, tmp_path, caplog):
    from espnet_spire.bin import extend_tokenizer

    out = str(tmp_path / "tok")
    assert extend_tokenizer.main(["--base_dir", base_spm, "--output_dir", out, "--kmeans", km50,
                                  "--num_units", "200"]) == 1
    msg = caplog.text
    assert "--num_units 200" in msg and "K=50" in msg and km50 in msg
    assert not os.path.exists(out)


def test_stage6_needs_kmeans_or_num_units(base_spm, tmp_path, caplog):
    from espnet_spire.bin import extend_tokenizer

    assert extend_tokenizer.main(["--base_dir", base_spm, "--output_dir", str(tmp_path / "t")]) == 1
    assert "give --kmeans" in caplog.text


@pytest.mark.fault
def test_recipe_stage6_stops_on_a_k_mismatch(km50, tmp_path):
    """Through the recipe: a K=50 k-means model with --nclusters 200 stops stage 6, naming both."""
    import subprocess

    from recipe_paths import DEMO, RECIPE_ENV

    base = F.make_base_dir(str(tmp_path / "base"), vocab_size=1000)
    out = subprocess.run(["./run.sh", "--stage", "6", "--stop_stage", "6", "--base_model", base,
                          "--kmeans_model", km50, "--nclusters", "200", "--expdir", str(tmp_path / "exp")],
                         cwd=DEMO, env=RECIPE_ENV, capture_output=True, text=True)
    assert out.returncode != 0
    assert f"--num_units 200 does not match the k-means model {km50}, which has K=50 clusters" in out.stderr
    assert not (tmp_path / "exp" / "tokenizer").exists()
    assert not (tmp_path / "exp" / "lm_init").exists()
