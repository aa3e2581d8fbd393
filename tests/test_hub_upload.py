"""Issue #13 item 4: what stage 15 uploads is a repo whose ROOT ``from_pretrained`` loads, with the
k-means model, ``spire.json``, RESULTS, configs and a model card with the Hub's metadata header;
no shared file holds a local absolute path. Tested by a dry run and a local-dir target."""

import logging
import os
from pathlib import Path

import joblib
import numpy as np
import pytest

import lm_fixtures as F

K = 40
CHECKOUT = str(Path(__file__).resolve().parents[1])
BASE_ID = "Unbabel/TowerBase-7B-v0.1"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from espnet_spire.bin import export_model

    root = str(tmp_path_factory.mktemp("hub"))
    built = F.build_tokenizers(root, num_units=K)
    model_dir = F.save_tiny_model(os.path.join(root, "trained"), built["tok_instruct"], seed=5)
    km = F.tiny_kmeans_dir(os.path.join(root, "kmeans"), K, sources=[root])
    conf, results = F.write_export_inputs(root)
    out = os.path.join(root, "exp", "spirefull", "export")
    assert export_model.main(["--model_dir", model_dir, "--tokenizer_dir", built["tok_instruct"], "--output_dir", out,
                              "--kmeans", km, "--conf", conf, "--results", results, "--name", "tiny spire",
                              "--languages", "en de zh", "--base_model_id", BASE_ID]) == 0
    return {"root": root, "out": out, "model_dir": model_dir, **built}


def test_dry_run_lists_a_root_loadable_repo_and_uploads_nothing(exported, monkeypatch, caplog):
    from espnet_spire.bin import upload_model

    caplog.set_level(logging.INFO)
    monkeypatch.delenv("HF_TOKEN", raising=False)  # a dry run needs no token: nothing is sent
    assert upload_model.main(["--repo_id", "me/tiny", "--folder", exported["out"], "--dry_run", "true"]) == 0
    files = dict(upload_model.repo_files(exported["out"]))
    assert {"config.json", "model.safetensors", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
            "chat_template.jinja", "spire.json", "README.md", "RESULTS.md", "export_info.json",
            "kmeans/centers.npy", "kmeans/kmeans.json", "kmeans/kmeans.joblib", "conf/train_it.yaml"} <= set(files)
    assert not any(f.startswith("hf/") for f in files) and "kmeans/provenance.json" not in files
    assert "dry run, nothing uploaded" in caplog.text
    for rel, size in files.items():
        assert f"{size:12d}  {rel}" in caplog.text


def test_local_dir_target_loads_with_from_pretrained(exported, tmp_path):
    from huggingface_hub import ModelCard
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from espnet_spire.bin import upload_model
    from espnet_spire.units.kmeans import load_kmeans

    local = tmp_path / "repo"
    assert upload_model.main(["--repo_id", "me/tiny", "--folder", exported["out"], "--local_dir", str(local)]) == 0
    model = AutoModelForCausalLM.from_pretrained(local, local_files_only=True)
    tok = AutoTokenizer.from_pretrained(local, local_files_only=True)
    assert model.get_input_embeddings().weight.shape[0] >= len(tok) and tok.eos_token == "<|im_end|>"
    prompt = tok.apply_chat_template([{"role": "user", "content": "x"}], tokenize=False, add_generation_prompt=True)
    assert prompt.startswith("<|im_start|>user\nx<|im_end|>") and prompt.endswith("<|im_start|>assistant\n")
    assert load_kmeans(str(local / "kmeans")).num_units == K  # the safe format, no pickle opened
    card = ModelCard.load(local / "README.md")
    assert card.data.license == "cc-by-nc-4.0" and card.data.language == ["en", "de", "zh"]
    assert card.data.base_model == BASE_ID and "spire" in card.data.tags
    assert card.data.library_name == "transformers" and "# tiny spire" in card.text


def test_no_shared_file_holds_a_local_absolute_path(exported):
    from espnet_spire.bin import upload_model

    for rel, _ in upload_model.repo_files(exported["out"]):
        with open(os.path.join(exported["out"], rel), "rb") as fh:
            text = fh.read().decode("utf-8", errors="replace")
        for local in (exported["root"], CHECKOUT, os.getcwd()):
            assert local not in text, (rel, local)


def test_upload_needs_a_token_from_the_environment(exported, monkeypatch, caplog):
    from espnet_spire.bin import upload_model

    monkeypatch.delenv("HF_TOKEN", raising=False)
    assert upload_model.main(["--repo_id", "me/tiny", "--folder", exported["out"]]) == 1
    assert "set HF_TOKEN in the environment" in caplog.text


def test_upload_refuses_what_would_not_load_or_leaks_paths(exported, tmp_path, caplog):
    import shutil

    from espnet_spire.bin import upload_model

    old = tmp_path / "old_layout"  # the model in an hf/ subfolder, as stage 14 wrote it before
    shutil.copytree(exported["out"], old / "hf")
    assert upload_model.main(["--repo_id", "me/t", "--folder", str(old), "--dry_run", "true"]) == 1
    assert f"{old} is not a loadable espnet_spire repo: missing config.json" in caplog.text
    leaky = tmp_path / "leaky"
    shutil.copytree(exported["out"], leaky)
    (leaky / "notes.txt").write_text(f"trained in {leaky}/..\n")
    caplog.clear()
    assert upload_model.main(["--repo_id", "me/t", "--folder", str(leaky), "--dry_run", "true"]) == 1
    assert f"{leaky / 'notes.txt'} contains the local path {leaky}" in caplog.text


def test_a_trusted_pickle_kmeans_is_shipped_in_the_safe_format(exported, tmp_path, caplog):
    from espnet_spire.bin import export_model
    from espnet_spire.units.kmeans import load_kmeans, sklearn_model_from_centers

    centers = np.random.default_rng(3).normal(size=(K, 4)).astype(np.float32)
    joblib.dump(sklearn_model_from_centers(centers), tmp_path / "kmeans_model")  # SpireKMeans style
    args = ["--model_dir", exported["model_dir"], "--tokenizer_dir", exported["tok_instruct"],
            "--output_dir", str(tmp_path / "export"), "--kmeans", str(tmp_path / "kmeans_model")]
    assert export_model.main(args) == 1
    assert "kmeans_model is a pickle" in caplog.text and not (tmp_path / "export").exists()
    assert export_model.main(args + ["--trust_pickle", "true"]) == 0
    assert sorted(os.listdir(tmp_path / "export" / "kmeans")) == ["centers.npy", "kmeans.json", "kmeans_model"]
    assert np.array_equal(load_kmeans(str(tmp_path / "export" / "kmeans")).centers, centers)
