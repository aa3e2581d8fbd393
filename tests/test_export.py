"""Stage 14: the exported HF dir reloads offline and generates exactly what the model did before."""

import json
import os
import tarfile

import numpy as np
import pytest
import torch

import lm_fixtures as F
from espnet_spire.lm import prompts as P
from espnet_spire.lm.decode import DecodeConfig, GreedyDecoder

K = 40


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from espnet_spire.bin import export_model

    root = str(tmp_path_factory.mktemp("exp"))
    built = F.build_tokenizers(root, num_units=K)
    model_dir = F.save_tiny_model(os.path.join(root, "trained"), built["tok_instruct"], seed=5)
    km = os.path.join(root, "kmeans")
    os.makedirs(km)
    np.save(os.path.join(km, "centers.npy"), np.zeros((K, 4), dtype=np.float32))
    with open(os.path.join(km, "kmeans_info.json"), "w") as f:
        json.dump({"num_units": K, "layer": 22}, f)
    conf, results = F.write_export_inputs(root)
    out = os.path.join(root, "export")
    pack = os.path.join(root, "packed", "model.tar.gz")
    assert export_model.main(["--model_dir", model_dir, "--tokenizer_dir", built["tok_instruct"], "--output_dir", out,
                              "--kmeans", km, "--conf", conf, "--results", results, "--pack", pack,
                              "--name", "tiny spire"]) == 0
    return {"root": root, "model_dir": model_dir, "out": out, "pack": pack, **built}


def test_reload_and_same_generation(exported):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    hf = exported["out"]  # the Hub repo: HF files at its root
    before_m = AutoModelForCausalLM.from_pretrained(exported["model_dir"], local_files_only=True)
    before_t = AutoTokenizer.from_pretrained(exported["model_dir"], local_files_only=True)
    after_m = AutoModelForCausalLM.from_pretrained(hf, local_files_only=True)
    after_t = AutoTokenizer.from_pretrained(hf, local_files_only=True)
    assert len(after_t) == len(before_t) and after_t.eos_token == "<|im_end|>"
    rng = np.random.default_rng(0)
    prompts = [P.render_chat(P.user_turn(P.asr_prompt(F.random_units(rng, 20, K)))) for _ in range(4)]
    assert after_t.apply_chat_template(P.user_turn("x"), tokenize=False, add_generation_prompt=True) == \
        P.render_chat(P.user_turn("x"))
    cfg = DecodeConfig(batch_size=2, max_new_tokens=24, stop_at_newline=False)
    a = GreedyDecoder(before_m.eval(), before_t, cfg).generate(prompts, progress=False)
    b = GreedyDecoder(after_m.eval(), after_t, cfg).generate(prompts, progress=False)
    assert a == b and any(a)
    # HF generate() with the exported generation config is greedy, hence the same tokens
    ids = torch.tensor([[after_t.bos_token_id] + after_t(prompts[0], add_special_tokens=False)["input_ids"]])
    g1 = after_m.generate(ids, max_new_tokens=10, do_sample=False, eos_token_id=None)
    g2 = after_m.generate(ids, max_new_tokens=10)
    assert after_m.generation_config.do_sample is False
    assert g2.shape[1] <= g1.shape[1] and torch.equal(g1[:, :g2.shape[1]], g2)


def test_generation_config_and_files(exported):
    hf = exported["out"]
    gen = json.load(open(os.path.join(hf, "generation_config.json")))
    assert gen["do_sample"] is False and gen["max_new_tokens"] == 256
    eos = gen["eos_token_id"]
    info = json.load(open(os.path.join(hf, "spire_tokenizer.json")))
    assert info["im_end_id"] in eos and 2 in eos
    files = set(os.listdir(hf))
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "README.md",
            "chat_template.jinja", "spire_tokenizer.json"} <= files
    card = open(os.path.join(exported["out"], "README.md")).read()
    assert "License" in card and "k-means" in card and "centers.npy" in card and "99.9" in card


def test_pack_contents(exported):
    with tarfile.open(exported["pack"]) as tar:
        names = set(tar.getnames())
    assert {"model/config.json", "model/model.safetensors", "model/README.md", "model/RESULTS.md",
            "model/kmeans/centers.npy", "model/conf/train_it.yaml", "model/spire.json",
            "model/export_info.json"} <= names
    assert all(n == "model" or n.startswith("model/") for n in names)  # one top-level folder
