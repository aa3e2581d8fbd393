"""Stage 10: IT conversations, loss masks (assistant turns only) and the mixture YAMLs."""

import json
import os

import numpy as np
import pytest
import yaml

import lm_fixtures as F
from espnet_spire.lm import prompts as P
from espnet_spire.lm.it_data import assistant_spans, build_it_data, load_mixture, source_conversations
from espnet_spire.lm.text_policy import TextPolicy
from espnet_spire.lm.token_data import read_split, read_stats
from espnet_spire.units.dsu_format import pua

K = 60
RECIPE = os.path.join(os.path.dirname(__file__), "..", "egs2", "spire", "spire1")
LANGS = ["de", "fr", "zh"]


write = F.write_lines


def write_it_corpus(root: str):
    """Units, transcripts, gold and pseudo ST, MT text and TowerBlocks lines under ``root``;
    returns the mixture variables and the tokenizer dirs (also used by test_it_mixtures_paper)."""
    built = F.build_tokenizers(root, num_units=K)
    rng = np.random.default_rng(1)
    n = 12
    ids = [f"utt{i:02d}" for i in range(n)]
    write(os.path.join(root, "dump/units/train/units"),
          [f"{u} {F.random_units(rng, 20 + i, K)}" for i, u in enumerate(ids)])
    en = F.ntrex_lines("en", n)
    en[5] = en[5] + " " + pua(4)  # unit character leaked into a transcript
    write(os.path.join(root, "data/train/text"), [f"{u} {t}" for u, t in zip(ids, en)])
    for lang in LANGS:
        write(os.path.join(root, f"data/train/text.tc.{lang}"),
              [f"{u} {t}" for u, t in zip(ids, F.ntrex_lines(lang, n))])
        for use in ("direct", "multiturn"):  # stage 9's layout
            write(os.path.join(root, f"pseudo/{use}/text.tc.{lang}"),
                  [f"{u} pseudo {t}" for u, t in zip(ids, F.ntrex_lines(lang, n))])
        write(os.path.join(root, f"data/mt/text.tc.{lang}"),
              [f"m{i} {t}" for i, t in enumerate(F.ntrex_lines(lang, 8, start=20))])
    write(os.path.join(root, "data/mt/text.tc.en"),
          [f"m{i} {t}" for i, t in enumerate(F.ntrex_lines("en", 8, start=20))])
    blocks = [
        {"conversations": [{"from": "human", "value": "Translate to German: Good morning."},
                           {"from": "gpt", "value": "Guten Morgen."}]},
        {"conversations": [{"from": "system", "value": "Be brief."}, {"from": "human", "value": "Fix: teh cat"},
                           {"from": "gpt", "value": "the cat"}, {"from": "human", "value": "And: a dgo"},
                           {"from": "gpt", "value": "a dog"}]},
        {"conversations": [{"from": "human", "value": "bad " + pua(1)}, {"from": "gpt", "value": "x"}]},
        {"conversations": [{"from": "human", "value": "no answer"}]},
    ]
    write(os.path.join(root, "blocks.jsonl"), [json.dumps(b, ensure_ascii=False) for b in blocks])
    variables = {"dumpdir": os.path.join(root, "dump"), "train_set": "train", "mt_train_set": "mt",
                 "pseudo_dir": os.path.join(root, "pseudo"), "towerblocks": os.path.join(root, "blocks.jsonl"),
                 "it_mt_dir": "data/mt"}
    for role in ("it_asr", "st", "pseudo_st"):  # spire.sh's data roles, all filled by one set here
        variables.update({f"{role}_dir": "data/train", f"{role}_units": os.path.join(root, "dump/units/train/units")})
    return variables, built


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("it"))
    variables, built = write_it_corpus(root)
    cwd = os.getcwd()
    os.chdir(root)  # mixture paths like data/${train_set}/text are relative to the recipe dir
    try:
        # every count that is not "all" in the paper becomes 10 here (the recipe passes them likewise)
        counts = {"n_gold_st": "10", "n_pseudo_direct": "10", "n_pseudo_multiturn": "10", "n_mt": "10"}
        mix = load_mixture(os.path.join(RECIPE, "conf/it_mixtures/spirefull.yaml"),
                           {**variables, **counts, "tgt_langs": " ".join(LANGS)})
        for src in mix["sources"]:
            if "langs" in src:
                assert src["langs"] == LANGS
        out = os.path.join(root, "out")
        stats = build_it_data(built["tok_instruct"], out, mix, max_len=4096)
    finally:
        os.chdir(cwd)
    return {"root": root, "out": out, "stats": stats, "vars": variables, **built}


def test_loss_mask_only_on_assistant_turns(data):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(data["tok_instruct"])
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    convs = [json.loads(line) for line in open(os.path.join(data["out"], "conversations.jsonl"), encoding="utf-8")]
    rows = list(read_split(data["out"]))
    assert len(rows) == len(convs) == data["stats"]["sequences"]
    for (key, ids, mask), rec in zip(rows, convs):
        msgs = P.from_sharegpt(rec)
        assert ids[0] == tok.bos_token_id and mask[0] == 0
        rendered = P.render_chat(msgs, add_generation_prompt=True)
        assert ids[1:] == F.ids_of(tok, rendered)
        assert ids[1:] == tok.apply_chat_template(msgs, tokenize=True, add_generation_prompt=True)["input_ids"]
        # the masked tokens are exactly the assistant contents, each followed by <|im_end|>
        answers = [m["content"] for m in msgs if m["role"] == "assistant"]
        runs, cur = [], []
        for t, m in zip(ids, mask):
            if m:
                cur.append(t)
            elif cur:
                runs.append(cur)
                cur = []
        assert cur == []  # the final "\n" after <|im_end|> carries no loss
        assert len(runs) == len(answers)
        for run, answer in zip(runs, answers):
            assert run[-1] == im_end
            assert tok.decode(run[:-1]) == answer
        # no loss on any prompt token: unit tokens and user text are all masked out
        unit0 = tok.convert_tokens_to_ids(pua(0))
        assert all(m == 0 for t, m in zip(ids, mask) if unit0 <= t < unit0 + K)


def test_encode_conversation_spans():
    msgs = P.multiturn_st_messages(pua(0) + pua(1), "hello world", "de", "Hallo Welt")
    rendered, spans = assistant_spans(msgs)
    assert [rendered[a:b] for a, b in spans] == ["hello world<|im_end|>", "Hallo Welt<|im_end|>"]


def test_conversation_kinds_and_files(data):
    s = read_stats(data["out"])
    src = s["sources"]
    assert src["asr"]["available"] == 11  # one transcript has a unit character
    assert src["st_gold"]["selected"] == 10 and src["st_gold"]["available"] == 12 * len(LANGS)
    assert src["st_pseudo"]["selected"] == 10 and src["multiturn_st"]["selected"] == 10
    assert src["mt"]["available"] == 8 * len(LANGS) * 2  # both directions
    assert src["towerblocks"]["available"] == 2 and src["towerblocks"]["selected"] == 2
    assert s["sources_left_out"] == [] and s["padding_share"] == 0.0
    k2s = [line.split() for line in open(os.path.join(data["out"], "key2source"), encoding="utf-8")]
    assert [k for k, _, _ in k2s] == [k for k, _, _ in read_split(data["out"])]
    convs = [json.loads(line) for line in open(os.path.join(data["out"], "conversations.jsonl"), encoding="utf-8")]
    by_source = {}
    for (k, source, ex), rec in zip(k2s, convs):
        by_source.setdefault(source, []).append(rec["conversations"])
        assert list(rec) == ["conversations"] and all(list(t) == ["from", "value"] for t in rec["conversations"])
    asr = by_source["asr"][0]
    assert asr[0]["value"].startswith("Speech: ") and asr[0]["value"].endswith("\nEnglish:")
    st = by_source["st_gold"][0]
    assert st[0]["value"].split("\n")[-1] in ("German:", "French:", "Chinese:")
    mt = [c for c in by_source["mt"]]
    assert any(c[0]["value"].startswith("Translate the following text from English to") for c in mt)
    assert any(c[0]["value"].endswith("\nEnglish:") for c in mt)
    mst = by_source["multiturn_st"][0]
    assert [t["from"] for t in mst] == ["human", "gpt", "human", "gpt"] and mst[3]["value"].startswith("pseudo ")
    assert any(t["from"] == "system" for c in by_source["towerblocks"] for t in c)
    skipped = open(os.path.join(data["out"], "skipped"), encoding="utf-8").read()
    assert "asr:utt05 unit_chars_in_text" in skipped
    assert "towerblocks:line3 unit_chars_in_text" in skipped and "towerblocks:line4 bad_turns" in skipped


@pytest.mark.parametrize("name", ["spirefull", "towerfull", "noblocks", "nopseudo"])
def test_recipe_mixtures(name, data):
    mix = load_mixture(os.path.join(RECIPE, f"conf/it_mixtures/{name}.yaml"), data["vars"])
    types = {s["name"]: s["type"] for s in mix["sources"]}
    assert mix["name"] == name and "asr" in types
    text_sources = {n for n, t in types.items() if t in ("mt", "jsonl")}
    pseudo = {n for n in types if "pseudo" in n or n == "multiturn_st"}
    if name == "noblocks":
        assert not text_sources and pseudo
    elif name == "nopseudo":
        assert text_sources and not pseudo
    else:
        assert text_sources and pseudo
    if name == "towerfull":
        full = load_mixture(os.path.join(RECIPE, "conf/it_mixtures/spirefull.yaml"), data["vars"])
        assert mix["sources"] == full["sources"]


def test_optional_sources_left_out_and_required_ones_fail(data, tmp_path):
    mix_path = tmp_path / "m.yaml"
    mix_path.write_text(yaml.safe_dump({"name": "t", "sources": [
        {"name": "asr", "type": "asr", "units": os.path.join(data["root"], "dump/units/train/units"),
         "text": os.path.join(data["root"], "data/train/text"), "num_samples": 3},
        {"name": "pseudo", "type": "st", "units": "x", "text_dir": "${pseudo_dir}", "required": False}]}))
    stats = build_it_data(data["tok_instruct"], str(tmp_path / "o"), load_mixture(str(mix_path)), seed=5)
    assert stats["sources_left_out"] == ["pseudo"] and stats["sequences"] == 3
    mix = load_mixture(str(mix_path))
    mix["sources"][1]["required"] = True
    with pytest.raises(FileNotFoundError, match="pseudo"):
        build_it_data(data["tok_instruct"], str(tmp_path / "o2"), mix)
    with pytest.raises(ValueError, match="chat template"):
        build_it_data(data["tok_base"], str(tmp_path / "o3"), load_mixture(str(mix_path)))


def test_sampling_is_seeded(data):
    import random

    src = {"name": "asr", "type": "asr", "units": os.path.join(data["root"], "dump/units/train/units"),
           "text": os.path.join(data["root"], "data/train/text")}
    a = source_conversations(src, P.PromptStyle(), TextPolicy(num_units=K), [], random.Random(0))
    b = source_conversations(src, P.PromptStyle.paper_era(), TextPolicy(num_units=K), [], random.Random(0))
    assert len(a) == 11 and a[0].messages[0]["content"].endswith("\nEnglish:")
    assert b[0].messages[0]["content"].endswith("\n English:")


def test_cli(data, tmp_path):
    from espnet_spire.bin import make_it_data

    mix = tmp_path / "small.yaml"
    mix.write_text(yaml.safe_dump({"name": "small", "prompt_style": "head", "sources": [
        {"name": "st", "type": "st", "units": "${dumpdir}/units/train/units", "text_dir": "${pseudo_dir}/direct",
         "langs": LANGS, "num_samples": 5}]}))
    assert make_it_data.main(["--tokenizer_dir", data["tok_instruct"], "--mixture", str(mix), "--output_dir",
                              str(tmp_path / "cli2"), "--var", f"dumpdir={data['vars']['dumpdir']}",
                              "--pseudo_dir", data["vars"]["pseudo_dir"], "--prompt_style", "paper"]) == 0
    stats = read_stats(str(tmp_path / "cli2"))
    assert stats["sequences"] == 5 and stats["prompt_style"]["newline"] == "\n "
