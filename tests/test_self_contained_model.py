"""A model trained by IT carries its own facts: the instruct tokenizer of its data (``<|im_end|>``,
chat template), a greedy generation config and ``spire.json``; decoding and export need only its dir."""

import glob
import json
import os

import numpy as np
import pytest
import yaml

import lm_fixtures as F
from spire_lm_helpers import base_args

K = 20
N = 24


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Stage 6 (tokenizer + model extension), 10 (IT data, paper prompt style) and 11 (1 epoch), tiny."""
    import sentencepiece as spm
    import torch

    from espnet_spire.bin import extend_model, extend_tokenizer, make_it_data
    from espnet_spire.tasks.spire_lm import SpireLMTask

    root = str(tmp_path_factory.mktemp("it_model"))
    base = os.path.join(root, "base_model")
    F.train_spm(base, 1000)
    n = spm.SentencePieceProcessor(model_file=os.path.join(base, "tokenizer.model")).get_piece_size()
    F.tiny_llama(n).save_pretrained(base)
    km = F.tiny_kmeans_dir(os.path.join(root, "kmeans"), K)
    tok = os.path.join(root, "tokenizer")
    assert extend_tokenizer.main(["--base_dir", base, "--output_dir", tok, "--kmeans", km, "--num_units", str(K)]) == 0
    lm_init = os.path.join(root, "lm_init")
    assert extend_model.main(["--model_dir", base, "--tokenizer_dir", os.path.join(tok, "base"),
                              "--output_dir", lm_init]) == 0
    rng = np.random.default_rng(0)
    ids = [f"utt{i:02d}" for i in range(N)]
    units = os.path.join(root, "dump/units/train/units")
    F.write_lines(units, [f"{u} {F.random_units(rng, 12, K)}" for u in ids])
    F.write_lines(os.path.join(root, "st/text.tc.de"), [f"{u} {t}" for u, t in zip(ids, F.ntrex_lines("de", N))])
    mix = os.path.join(root, "mix.yaml")
    with open(mix, "w") as f:
        yaml.safe_dump({"name": "tiny", "prompt_style": "head", "sources": [
            {"name": "st", "type": "st", "units": units, "text_dir": os.path.join(root, "st"), "langs": ["de"],
             "num_samples": "all"}]}, f)
    data = os.path.join(root, "dump/lm/it/tiny")
    for part in ("train", "valid"):
        assert make_it_data.main(["--tokenizer_dir", os.path.join(tok, "instruct"), "--mixture", mix,
                                  "--output_dir", os.path.join(data, part), "--prompt_style", "paper"]) == 0
    exp = os.path.join(root, "exp/tiny")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        SpireLMTask.main(cmd=base_args(lm_init, exp, os.path.join(data, "train"), os.path.join(data, "valid"),
                                       max_epoch=1, use_matplotlib=False))
    finally:
        torch.set_num_threads(threads)
    return {"root": root, "hf": os.path.join(exp, "hf_model"), "units": units, "kmeans": km,
            "tok_instruct": os.path.join(tok, "instruct")}


def test_it_model_dir_has_the_instruct_tokenizer_and_its_facts(trained):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(trained["hf"], local_files_only=True)
    assert "<|im_end|>" in tok.get_vocab() and tok.eos_token == "<|im_end|>" and tok.chat_template
    gen = json.load(open(os.path.join(trained["hf"], "generation_config.json")))
    assert gen["do_sample"] is False and gen["max_new_tokens"] == 256
    assert tok.convert_tokens_to_ids("<|im_end|>") in gen["eos_token_id"]
    facts = json.load(open(os.path.join(trained["hf"], "spire.json")))
    assert (facts["kind"], facts["num_units"], facts["prompt_style"], facts["variant"]) == (
        "model", K, "paper", "instruct")
    assert facts["provenance"]["data"] == {"stage": "it_data", "mixture": "tiny", "dir": "tiny"}
    assert facts["base"]["name"] == "base_model" and len(facts["base"]["weights_sha256"]) == 64
    assert facts["kmeans"]["num_units"] == K and facts["chat_template"] is True


def test_decoding_needs_only_the_model_dir(trained, tmp_path):
    from espnet_spire.bin import spire_lm_decode

    out = str(tmp_path / "decode")
    assert spire_lm_decode.main(["--model_dir", trained["hf"], "--tasks", "st_de", "--units", trained["units"],
                                 "--output_dir", out, "--max_new_tokens", "3", "--batch_size", "8"]) == 0
    info = json.load(open(os.path.join(out, "st_de", "decode_info.json")))
    assert info["prompt_newline"] == "\n " and info["chat_template"] is True  # paper style, from spire.json
    prompt = json.loads(open(os.path.join(out, "st_de", "prompts.jsonl")).readline())["prompt"]
    assert prompt.startswith("<|im_start|>user\n") and "\n German:" in prompt
    out2 = str(tmp_path / "decode_head")  # the option still overrides
    assert spire_lm_decode.main(["--model_dir", trained["hf"], "--tasks", "st_de", "--units", trained["units"],
                                 "--output_dir", out2, "--max_new_tokens", "1", "--prompt_style", "head"]) == 0
    assert json.load(open(os.path.join(out2, "st_de", "decode_info.json")))["prompt_newline"] == "\n"


def test_stage14_export_is_self_contained_without_absolute_paths(trained, tmp_path):
    from espnet_spire.bin import export_model

    conf = tmp_path / "train_it.yaml"
    conf.write_text("lr: 1e-5\n")
    out = str(tmp_path / "export")
    assert export_model.main(["--model_dir", trained["hf"], "--output_dir", out, "--kmeans", trained["kmeans"],
                              "--conf", str(conf), "--pack", str(tmp_path / "m.tar.gz"),
                              "--trust_pickle", "false"]) == 0
    hf = out  # the Hub repo: HF files at its root
    assert {"centers.npy", "kmeans.joblib", "kmeans.json"} <= set(os.listdir(os.path.join(hf, "kmeans")))
    facts = json.load(open(os.path.join(hf, "spire.json")))
    assert facts["prompt_style"] == "paper"
    assert "kmeans/kmeans.json" in facts["files"] and "conf/train_it.yaml" in facts["files"]
    for path in glob.glob(os.path.join(out, "**", "*"), recursive=True):
        if os.path.isfile(path) and path.endswith((".json", ".md", ".jinja", ".yaml")):
            text = open(path, encoding="utf-8").read()
            assert trained["root"] not in text and str(tmp_path) not in text, path


def test_stage14_refuses_a_kmeans_model_of_another_k(trained, tmp_path, caplog):
    from espnet_spire.bin import export_model

    km50 = F.tiny_kmeans_dir(str(tmp_path / "km50"), 50)
    assert export_model.main(["--model_dir", trained["hf"], "--output_dir", str(tmp_path / "e"),
                              "--kmeans", km50]) == 1
    assert f"has {K} unit tokens" in caplog.text and "K=50" in caplog.text and km50 in caplog.text
