"""Stage 12: batched greedy decoding (== one by one), newline/eos stops, no padded-row ids."""

import json
import os
import types

import numpy as np
import pytest
import torch

import lm_fixtures as F
from espnet_spire.lm import prompts as P
from espnet_spire.lm.decode import DecodeConfig, GreedyDecoder, decode_task, parse_task

K = 50


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("dec"))
    built = F.build_tokenizers(root, num_units=K)
    model_dir = F.save_tiny_model(os.path.join(root, "model"), built["tok_instruct"], seed=11)
    rng = np.random.default_rng(2)
    units = os.path.join(root, "units")
    with open(units, "w", encoding="utf-8") as f:
        for i in range(14):
            f.write(f"u{13 - i:02d} {F.random_units(rng, int(rng.integers(3, 40)), K)}\n")
    text_dir = os.path.join(root, "text")
    os.makedirs(text_dir)
    with open(os.path.join(text_dir, "text.tc.en"), "w", encoding="utf-8") as f:
        for i, s in enumerate(F.ntrex_lines("en", 6)):
            f.write(f"s{i} {s}\n")
    return {"root": root, "model_dir": model_dir, "units": units, "text_dir": text_dir, **built}


@pytest.fixture(scope="module")
def model_tok(setup):
    from espnet_spire.lm.decode import load_model_and_tokenizer

    return load_model_and_tokenizer(setup["model_dir"], device="cpu")


def prompts_for(tok, n=12, seed=0):
    rng = np.random.default_rng(seed)
    return [P.render_chat(P.user_turn(P.asr_prompt(F.random_units(rng, int(rng.integers(2, 50)), K))))
            for _ in range(n)]


def test_parse_task():
    assert parse_task("asr").kind == "asr"
    assert parse_task("st_de").tgt == "de" and parse_task("st_zh-CN").tgt == "zh"
    t = parse_task("mt_de_en")
    assert (t.kind, t.src, t.tgt, t.name, t.speech) == ("mt", "de", "en", "mt_de_en", False)
    assert parse_task("multiturn_st_fr").name == "multiturn_st_fr"
    for bad, message in (("st", "unknown task 'st'"), ("st_xx", "unknown language code 'xx'"),
                         ("mt_en", "unknown task 'mt_en'"), ("foo", "unknown task 'foo'")):
        with pytest.raises(ValueError, match=message):
            parse_task(bad)


def test_batched_equals_one_by_one(model_tok):
    model, tok = model_tok
    prompts = prompts_for(tok)
    one = GreedyDecoder(model, tok, DecodeConfig(batch_size=1, max_new_tokens=30, stop_at_newline=False))
    many = GreedyDecoder(model, tok, DecodeConfig(batch_size=5, max_new_tokens=30, stop_at_newline=False))
    enc = [one.encode(p) for p in prompts]
    single = [one.generate_ids([e])[0] for e in enc]
    batched = many.generate_ids(enc[:5]) + many.generate_ids(enc[5:])
    assert single == batched
    assert sum(len(x) for x in single) > 100  # really generated something
    # the text path too (sorting by length, newline stop)
    a = GreedyDecoder(model, tok, DecodeConfig(batch_size=1, max_new_tokens=30)).generate(prompts, progress=False)
    b = GreedyDecoder(model, tok, DecodeConfig(batch_size=7, max_new_tokens=30)).generate(prompts, progress=False)
    assert a == b


def test_never_emits_padded_rows(setup, model_tok):
    """Rows >= len(tokenizer) are padding; make them the best logits and check they never come out."""
    from transformers import AutoModelForCausalLM

    _, tok = model_tok
    model = AutoModelForCausalLM.from_pretrained(setup["model_dir"])
    n = len(tok)
    rows = model.get_output_embeddings().weight.shape[0]
    assert rows > n
    head = torch.nn.Linear(model.config.hidden_size, rows, bias=True)
    with torch.no_grad():
        head.weight.copy_(model.lm_head.weight)
        head.bias.zero_()
        head.bias[n:] = 100.0  # padded rows would always win
        head.bias[tok.all_special_ids] = -100.0  # and no eos ends a row early
    model.lm_head = head
    prompts = prompts_for(tok, 4, seed=1)
    dec = GreedyDecoder(model, tok, DecodeConfig(batch_size=4, max_new_tokens=20, stop_at_newline=False))
    ids = dec.encode(prompts[0])
    raw = model(torch.tensor([ids])).logits[0, -1].argmax().item()
    assert raw >= n  # without the mask the padded rows would win
    out = dec.generate_ids([dec.encode(p) for p in prompts])
    assert all(0 <= t < n for row in out for t in row) and all(len(row) == 20 for row in out)


class ScriptedLM(torch.nn.Module):
    """Emits a fixed token script per row, whatever the input (tests the stop logic)."""

    def __init__(self, scripts, vocab_rows, eos):
        super().__init__()
        self.scripts = scripts
        self.head = torch.nn.Linear(4, vocab_rows, bias=False)
        self.config = types.SimpleNamespace(max_position_embeddings=4096, eos_token_id=eos)
        self.generation_config = types.SimpleNamespace(eos_token_id=eos)
        self.step = 0

    def get_output_embeddings(self):
        return self.head

    def forward(self, input_ids, attention_mask=None, position_ids=None, past_key_values=None, use_cache=True):
        n = input_ids.shape[0]
        logits = torch.zeros(n, input_ids.shape[1], self.head.weight.shape[0])
        for r in range(n):
            s = self.scripts[r]
            logits[r, -1, s[min(self.step, len(s) - 1)]] = 10.0
        self.step += 1
        return types.SimpleNamespace(logits=logits)


def test_stops_at_newline_and_eos(model_tok):
    _, tok = model_tok
    he, llo = (tok.convert_tokens_to_ids(t) for t in ("▁he", "llo"))
    if tok.unk_token_id in (he, llo):
        he, llo = F.ids_of(tok, "hello")[:2]
    nl = tok.convert_tokens_to_ids("<0x0A>")
    eos = tok.eos_token_id
    scripts = [[he, llo, nl, he, he], [he, eos, llo, llo, llo], [llo] * 10]
    fake = ScriptedLM(scripts, len(tok) + 10, eos)
    dec = GreedyDecoder(fake, tok, DecodeConfig(batch_size=3, max_new_tokens=6))
    out = dec.generate_ids([[1, 5], [1, 6, 7], [1]])
    assert out[0] == [he, llo, nl] and out[1] == [he] and out[2] == [llo] * 6
    assert dec.decode_text(out[0]) == tok.decode([he, llo]) and "\n" not in dec.decode_text(out[0])
    # a carriage return (byte token <0x0D>) ends the one-line hypothesis too
    cr = tok.convert_tokens_to_ids("<0x0D>")
    assert cr != tok.unk_token_id
    assert dec.decode_text([he, llo, cr, he]) == tok.decode([he, llo])
    fake.step = 0
    texts = GreedyDecoder(fake, tok, DecodeConfig(batch_size=3, max_new_tokens=6, sort_by_length=False)).generate(
        ["a", "b", "c"], progress=False)
    assert texts[0] == tok.decode([he, llo]) and texts[1] == tok.decode([he])
    # without newline stopping the script runs on (max_new_tokens bounds it)
    fake.step = 0
    dec2 = GreedyDecoder(fake, tok, DecodeConfig(batch_size=3, max_new_tokens=6, stop_at_newline=False))
    assert dec2.generate_ids([[1], [1], [1]])[0] == [he, llo, nl, he, he, he]


def test_decode_task_outputs(setup, model_tok, tmp_path):
    model, tok = model_tok
    cfg = DecodeConfig(batch_size=4, max_new_tokens=16)
    out = str(tmp_path / "decode_test" / "demo_test")
    info = decode_task(model, tok, "asr", setup["units"], os.path.join(out, "asr"), cfg)
    lines = open(os.path.join(out, "asr", "text"), encoding="utf-8").read().splitlines()
    keys = [line.split(" ", 1)[0] for line in lines]
    assert keys == sorted(keys) and len(keys) == 14 == info["utterances"]
    prompts = [json.loads(line) for line in open(os.path.join(out, "asr", "prompts.jsonl"), encoding="utf-8")]
    units = dict(line.rstrip("\n").split(" ", 1) for line in open(setup["units"], encoding="utf-8"))
    assert prompts[0]["prompt"] == P.render_chat(P.user_turn(P.asr_prompt(units[prompts[0]["key"]])))
    # batched file output == one-by-one file output
    decode_task(model, tok, "asr", setup["units"], str(tmp_path / "one"),
                DecodeConfig(batch_size=1, max_new_tokens=16))
    assert open(str(tmp_path / "one" / "text")).read() == open(os.path.join(out, "asr", "text")).read()
    # MT and multi-turn ST
    decode_task(model, tok, "mt_en_de", os.path.join(setup["text_dir"], "text.tc.en"),
                os.path.join(out, "mt_en_de"), cfg)
    p = json.loads(open(os.path.join(out, "mt_en_de", "prompts.jsonl"), encoding="utf-8").readline())["prompt"]
    assert "Translate the following text from English to German.\nEnglish: " in p
    decode_task(model, tok, "multiturn_st_de", setup["units"], os.path.join(out, "mst"), cfg)
    with open(os.path.join(out, "mst", "asr_text"), encoding="utf-8") as f:
        asr_hyp = dict((line.split(" ", 1) + [""])[:2] for line in f.read().splitlines())
    p = json.loads(open(os.path.join(out, "mst", "prompts.jsonl"), encoding="utf-8").readline())
    assert p["prompt"].endswith("<|im_start|>user\nGerman:<|im_end|>\n<|im_start|>assistant\n")
    assert f"<|im_start|>assistant\n{asr_hyp[p['key']]}<|im_end|>" in p["prompt"]


def test_base_model_prompt_without_chat_template(setup, model_tok, tmp_path):
    model, _ = model_tok
    from transformers import AutoTokenizer

    base_tok = AutoTokenizer.from_pretrained(setup["tok_base"])
    cfg = DecodeConfig(batch_size=4, max_new_tokens=8, style=P.PromptStyle.paper_era())
    decode_task(model, base_tok, "st_de", setup["units"], str(tmp_path / "st"), cfg)
    p = json.loads(open(str(tmp_path / "st" / "prompts.jsonl"), encoding="utf-8").readline())["prompt"]
    assert p.startswith("Speech: ") and p.endswith("\n German:")


def test_cli_bf16_and_keys(setup, tmp_path):
    from espnet_spire.bin import spire_lm_decode

    keys = tmp_path / "keys"
    keys.write_text("u01\nu03\n")
    out = str(tmp_path / "exp" / "decode_greedy" / "demo_test")
    assert spire_lm_decode.main(["--model_dir", setup["model_dir"], "--tasks", "asr", "mt_en_fr",
                                 "--units", setup["units"], "--mt_text_dir", setup["text_dir"],
                                 "--output_dir", out, "--keys_file", str(keys), "--dtype", "bfloat16",
                                 "--max_new_tokens", "8", "--batch_size", "2"]) == 0
    lines = open(os.path.join(out, "asr", "text")).read().splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == ["u01", "u03"]
    info = json.load(open(os.path.join(out, "asr", "decode_info.json")))
    assert info["dtype"] == "bfloat16" and info["chat_template"] is True
    assert len(open(os.path.join(out, "mt_en_fr", "text")).read().splitlines()) == 0  # keys filter MT ids too


def test_cli_job_list_decodes_several_sets_with_one_model_load(setup, tmp_path):
    """`--job_list`: two test sets in one process give the files two separate runs give."""
    from espnet_spire.bin import spire_lm_decode

    keys = tmp_path / "keys"
    keys.write_text("u01\nu03\n")
    common = ["--model_dir", setup["model_dir"], "--max_new_tokens", "8", "--batch_size", "2"]
    sep = tmp_path / "separate"
    assert spire_lm_decode.main([*common, "--tasks", "asr", "mt_en_fr", "--units", setup["units"],
                                 "--mt_text_dir", setup["text_dir"], "--output_dir", str(sep / "a")]) == 0
    assert spire_lm_decode.main([*common, "--tasks", "mt_en_fr", "--mt_text_dir", setup["text_dir"],
                                 "--keys_file", str(keys), "--output_dir", str(sep / "b")]) == 0
    one = tmp_path / "one"
    lst = tmp_path / "jobs.tsv"
    lst.write_text(f"{one / 'a'}\t-\t{setup['units']}\t{setup['text_dir']}\tasr mt_en_fr\n"
                   f"{one / 'b'}\t{keys}\t-\t{setup['text_dir']}\tmt_en_fr\n")
    assert spire_lm_decode.main([*common, "--job_list", str(lst)]) == 0
    for rel in ("a/asr/text", "a/mt_en_fr/text", "a/mt_en_fr/prompts.jsonl", "b/mt_en_fr/text"):
        assert (one / rel).read_bytes() == (sep / rel).read_bytes(), rel
    assert not (one / "b" / "asr").exists()
    bad = tmp_path / "bad.tsv"
    bad.write_text(f"{one / 'c'}\t-\t-\t{setup['text_dir']}\tasr\n")
    with pytest.raises(SystemExit):
        spire_lm_decode.main([*common, "--job_list", str(bad)])
    bad.write_text("x\ty\n")
    with pytest.raises(SystemExit):
        spire_lm_decode.main([*common, "--job_list", str(bad)])
