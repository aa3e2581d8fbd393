"""The paper's IT mixtures: languages from --tgt_langs, counts from variables (paper defaults,
demo overrides), per-pair counts, and the demo's data bytes kept when it passes its numbers.

The mixtures are the recipe's ``conf/it_mixtures``.
"""

import filecmp
import os
from collections import Counter

import pytest
import yaml

from espnet_spire.lm.it_data import build_it_data, load_mixture, parse_num_samples
from test_it_data import LANGS, RECIPE, write_it_corpus

MIXTURES = os.path.join(RECIPE, "conf", "it_mixtures")
NAMES = ["spirefull", "towerfull", "noblocks", "nopseudo"]
DATA_FILES = ["input_ids", "loss_mask", "conversations.jsonl", "key2source", "skipped"]

# The demo's SpireFull mixture before the paper's YAMLs (main 2379c6c), frozen: the reference
# for the demo's bytes (languages and counts are set per test, as test_it_data does).
DEMO_SPIREFULL = """
name: spirefull
seed: 0
prompt_style: head
sources:
  - {name: asr, type: asr, units: "${dumpdir}/units/${train_set}/units", text: "data/${train_set}/text",
     num_samples: all}
  - {name: st_gold, type: st, units: "${dumpdir}/units/${train_set}/units", text_dir: "data/${train_set}",
     file_pattern: "text.tc.{lang}", langs: [de, es, fr, it, ko, nl, pt, ru, zh], num_samples: 2000}
  - {name: st_pseudo, type: st, units: "${dumpdir}/units/${train_set}/units", text_dir: "${pseudo_dir}/direct",
     file_pattern: "text.tc.{lang}", langs: [de, es, fr, it, ko, nl, pt, ru, zh], num_samples: 2000,
     required: false}
  - {name: multiturn_st, type: multiturn_st, units: "${dumpdir}/units/${train_set}/units",
     text: "data/${train_set}/text", text_dir: "${pseudo_dir}/multiturn", file_pattern: "text.tc.{lang}",
     langs: [de, es, fr, it, ko, nl, pt, ru, zh], num_samples: 1000, required: false}
  - {name: mt, type: mt, mt_dir: "data/${mt_train_set}", src_lang: en,
     langs: [de, es, fr, it, ko, nl, pt, ru, zh], directions: both, num_samples: 2000}
  - {name: towerblocks, type: jsonl, path: "${towerblocks}", num_samples: all, required: false}
"""
DEMO_COUNTS = {"st_gold": 10, "st_pseudo": 10, "multiturn_st": 5, "mt": 10}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("it_paper"))
    variables, built = write_it_corpus(root)
    return {"root": root, "vars": variables, **built}


def paper_path(name):
    path = os.path.join(MIXTURES, f"{name}.yaml")
    with open(path, encoding="utf-8") as f:
        if "variables" not in (yaml.safe_load(f) or {}):
            pytest.fail(f"{path} has no 'variables:' block: its counts are not the paper's defaults")
    return path


def roles(data, **extra):
    """The fixture's dirs in the paper mixtures' roles (the demo fills every role with its dirs)."""
    return {**data["vars"], **extra}


def build(data, mix, out):
    cwd = os.getcwd()
    os.chdir(data["root"])  # data/<set> paths are relative to the recipe dir
    try:
        return build_it_data(data["tok_instruct"], out, mix)
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize("name", NAMES)
def test_paper_defaults_and_demo_overrides(name, data):
    paper = load_mixture(paper_path(name), roles(data, tgt_langs="zh, de fr"))
    demo = load_mixture(paper_path(name), roles(data, tgt_langs="de fr zh", n_gold_st="2000",
                                                n_pseudo_direct="2000", n_pseudo_multiturn="1000", n_mt="2000"))
    counts = {s["name"]: s.get("num_samples") for s in paper["sources"]}
    expected = {"asr": "all", "st_gold": "all", "st_pseudo": "60000/lang", "multiturn_st": "60000/lang",
                "mt": "0", "towerblocks": "all"}
    assert counts == {k: v for k, v in expected.items() if k in counts}
    assert {s["name"]: s.get("num_samples") for s in demo["sources"]}.get("st_gold") == "2000"
    for src in paper["sources"]:
        if src["type"] in ("st", "multiturn_st", "mt"):
            assert src["langs"] == ["de", "fr", "zh"]  # from tgt_langs, in code order
    names = set(counts)
    assert {"noblocks": "mt" not in names and "towerblocks" not in names and "st_pseudo" in names,
            "nopseudo": "st_pseudo" not in names and "multiturn_st" not in names and "towerblocks" in names,
            }.get(name, names == set(expected))
    if name == "towerfull":
        assert paper["sources"] == load_mixture(paper_path("spirefull"), roles(data, tgt_langs="de fr zh"))["sources"]


def test_no_language_or_count_in_the_paper_mixtures():
    for name in NAMES:
        mix = yaml.safe_load(open(paper_path(name), encoding="utf-8"))
        for src in mix["sources"]:
            assert src.get("langs", "${tgt_langs}") == "${tgt_langs}", (name, src["name"])
            assert str(src["num_samples"]).startswith("${"), (name, src["name"])


def test_demo_bytes_kept_with_the_demo_numbers(data, tmp_path):
    old_path = tmp_path / "demo_spirefull.yaml"
    old_path.write_text(DEMO_SPIREFULL)
    old = load_mixture(str(old_path), data["vars"])
    for src in old["sources"]:
        if "langs" in src:
            src["langs"] = LANGS
        src["num_samples"] = DEMO_COUNTS.get(src["name"], src["num_samples"])
    # the same counts through the paper mixture's variables; languages in another order
    new = load_mixture(paper_path("spirefull"), roles(
        data, tgt_langs="zh fr de", n_gold_st="10", n_pseudo_direct="10", n_pseudo_multiturn="5", n_mt="10"))
    build(data, old, str(tmp_path / "old"))
    stats = build(data, new, str(tmp_path / "new"))
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "old", tmp_path / "new", DATA_FILES, shallow=False)
    assert (mismatch, errors) == ([], [])
    assert stats["sources"]["mt"]["selected"] == 10 and stats["sources"]["multiturn_st"]["selected"] == 5


def test_per_pair_counts(data, tmp_path):
    mix = load_mixture(paper_path("spirefull"), roles(data, tgt_langs="de fr zh", n_pseudo_direct="3/lang",
                                                      n_pseudo_multiturn="2/lang", n_gold_st="0"))
    build(data, mix, str(tmp_path / "o"))
    per_lang = Counter()
    for line in open(tmp_path / "o" / "key2source", encoding="utf-8"):
        _, source, example = line.split()
        if source in ("st_pseudo", "multiturn_st"):
            per_lang[source, example.rsplit("-", 1)[1]] += 1
    assert per_lang == {**{("st_pseudo", lang): 3 for lang in LANGS}, **{("multiturn_st", lang): 2 for lang in LANGS}}


def test_count_errors(data, tmp_path):
    assert parse_num_samples("60000/lang") == (60000, True) and parse_num_samples("all") == (None, False)
    with pytest.raises(ValueError, match="num_samples must be 'all', a count or '<count>/lang', got 'lots'"):
        parse_num_samples("lots")
    with pytest.raises(FileNotFoundError, match=r"source st_gold needs \['tgt_langs'\] \(give --var values"):
        build(data, load_mixture(paper_path("spirefull"), roles(data)), str(tmp_path / "no_langs"))
    mix = load_mixture(paper_path("spirefull"), roles(data, tgt_langs="de", n_asr="5/lang"))
    with pytest.raises(ValueError, match="source asr: per-language counts \\(5/lang\\) need a source with languages"):
        build(data, mix, str(tmp_path / "o"))


def test_cli_tgt_langs(data, tmp_path):
    from espnet_spire.bin import make_it_data
    from espnet_spire.lm.token_data import read_stats

    args = ["--tokenizer_dir", data["tok_instruct"], "--mixture", paper_path("nopseudo"), "--output_dir",
            str(tmp_path / "cli"), "--tgt_langs", "fr", "de", "--var", "n_gold_st=2/lang"]
    args += [a for k, v in roles(data).items() for a in ("--var", f"{k}={v}")]
    cwd = os.getcwd()
    os.chdir(data["root"])
    try:
        assert make_it_data.main(args) == 0
    finally:
        os.chdir(cwd)
    stats = read_stats(str(tmp_path / "cli"))
    gold = next(s for s in stats["mixture_config"]["sources"] if s["name"] == "st_gold")
    assert gold["langs"] == ["de", "fr"] and stats["sources"]["st_gold"]["selected"] == 4
    assert "mt" in stats["sources_left_out"] or stats["sources"]["mt"]["selected"] == 0
