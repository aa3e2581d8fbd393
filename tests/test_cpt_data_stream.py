"""The streaming CPT builder writes the same bytes as the in-memory builder it replaced.

``cpt_data_reference`` is a frozen copy of the builder before streaming (main 2379c6c); every
file of a split built by both from the same inputs must be identical, over options that take
different paths (ratio cuts, budget, random MT directions, units as context, no padding,
unsorted inputs that fall back to in-memory reading, skips of every kind).
"""

import filecmp
import os
import random

import numpy as np
import pytest

import cpt_data_reference as ref
import lm_fixtures as F
from espnet_spire.lm.cpt_data import CptConfig, Document, build_cpt_data, pack, pack_stream, select
from espnet_spire.lm.sources import iter_joined
from espnet_spire.units.dsu_format import pua

K = 100


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("cpt_stream"))
    built = F.build_tokenizers(root, num_units=K)
    rng = np.random.default_rng(1)
    en = F.ntrex_lines("en", 80)
    units, text = [], []
    for i in range(60):
        units.append(f"utt{i:03d} {F.random_units(rng, int(rng.integers(5, 90)), K)}")
        text.append(f"utt{i:03d} {en[i]}")
    units += ["bad_pua utt", "empty_units", f"orphan {pua(4)}", f"long {pua(5)}"]
    text += ["bad_pua hello", "empty_units hello", "long " + " ".join(["word"] * 300), "only_text no units"]
    F.write_lines(os.path.join(root, "a", "units"), sorted(units))
    F.write_lines(os.path.join(root, "a", "text"), sorted(text))
    # a second ASR source whose files are not sorted (the in-memory fallback)
    F.write_lines(os.path.join(root, "b", "units"), [f"z{i:02d} {F.random_units(rng, 20, K)}" for i in (5, 1, 3, 2)])
    F.write_lines(os.path.join(root, "b", "text"), [f"z{i:02d} {en[60 + i]}" for i in (3, 2, 4, 1)])
    mt = os.path.join(root, "mt")
    for lang in ("en", "de", "fr"):
        lines = F.ntrex_lines(lang, 25, start=100)
        if lang == "de":
            lines[3] += " " + pua(9)
        F.write_lines(os.path.join(mt, f"text.tc.{lang}"), [f"mt{i:03d} {s}" for i, s in enumerate(lines)])
    mono = os.path.join(root, "mono", "text.tc.de")
    F.write_lines(mono, [f"mono{i:03d} {s}" for i, s in reversed(list(enumerate(F.ntrex_lines("de", 30, start=130))))])
    inputs = ([(os.path.join(root, "a", "units"), os.path.join(root, "a", "text")),
               (os.path.join(root, "b", "units"), os.path.join(root, "b", "text"))], [mt], [mono])
    return {"root": root, "inputs": inputs, **built}


CASES = {
    "ratio": dict(max_len=256, speech_text_ratio=2.0, seed=3, mt_langs=("de", "fr")),
    "budget_random": dict(max_len=200, speech_text_ratio=5.0, max_tokens=3000, seed=1, mt_langs=("de", "fr"),
                          mt_directions="random", pack_window=2),
    "context_units_nopad": dict(max_len=300, speech_text_ratio=None, seed=0, mt_langs=("fr",),
                                loss_on_units=False, pad_to_max_len=False, batch_size=7),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_bytes_as_the_in_memory_builder(corpus, case):
    opts = CASES[case]
    new_out, old_out = (os.path.join(corpus["root"], f"{case}_{w}") for w in ("new", "old"))
    build_cpt_data(corpus["tok_base"], new_out, CptConfig(**opts), *corpus["inputs"])
    ref.build_cpt_data(corpus["tok_base"], old_out, CptConfig(**opts), *corpus["inputs"])
    files = sorted(f for f in os.listdir(old_out) if os.path.isfile(os.path.join(old_out, f)))
    assert "input_ids" in files and "seq2docs" in files and "skipped" in files
    assert sorted(f for f in os.listdir(new_out) if os.path.isfile(os.path.join(new_out, f))) == files
    match, mismatch, errors = filecmp.cmpfiles(old_out, new_out, files, shallow=False)
    assert mismatch == [] and errors == []
    # the on-disk document store is removed
    assert not [d for d in os.listdir(corpus["root"]) if ".docs." in d]


def test_pack_stream_matches_first_fit():
    r = random.Random(0)
    for window in (1, 2, 64):
        lengths = [r.choice([1, 5, 17, 50, 64, 64, 30]) for _ in range(500)]
        assert pack(lengths, 64, window) == ref.pack(lengths, 64, window)
        assert list(pack_stream(iter(lengths), 64, window)) == ref.pack(lengths, 64, window)


def test_select_matches_mix():
    r = random.Random(2)
    kinds = [r.choice(["speech", "text"]) for _ in range(300)]
    lengths = [r.randint(1, 90) for _ in range(300)]
    docs = [Document(str(i), "x", k, "") for i, k in enumerate(kinds)]
    for ratio, budget in ((5.0, None), (0.5, 2000), (None, None)):
        keep, info = select([0 if k == "speech" else 1 for k in kinds], lengths, ratio, budget, 4)
        assert (list(keep), info) == ref.mix(docs, lengths, ratio, budget, 4)


def test_join_of_sorted_and_unsorted_files(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("k1 A1\nk3 A3\nk4 A4\n")
    b.write_text("k2 B2\nk3 B3\nk4 B4\n")
    assert list(iter_joined(str(a), str(b))) == [("k1", "A1", None), ("k2", None, "B2"),
                                                   ("k3", "A3", "B3"), ("k4", "A4", "B4")]
    b.write_text("k4 B4\nk2 B2\nk3 B3\n")  # unsorted: ids only in a first, then b's order
    assert list(iter_joined(str(a), str(b))) == [("k1", "A1", None), ("k4", "A4", "B4"),
                                                   ("k2", None, "B2"), ("k3", "A3", "B3")]


def test_parse_budget():
    from espnet_spire.lm.cpt_data import parse_budget

    assert parse_budget("6B") == parse_budget("6e9") == parse_budget(6_000_000_000) == 6_000_000_000
    assert parse_budget("500k") == 500_000
    assert parse_budget("0") is None and parse_budget(0) is None and parse_budget(None) is None
    with pytest.raises(ValueError, match="token budget must be a count like 6B, 6e9 or 0"):
        parse_budget("lots")


def test_cli_budget(corpus, tmp_path):
    """--max_tokens through the CLI: 0 keeps everything (no budget), 2k cuts to at most 2,000 tokens."""
    from espnet_spire.bin import make_cpt_data
    from espnet_spire.lm.token_data import read_stats

    (units, text), _ = corpus["inputs"][0]
    for budget, out in (("0", tmp_path / "all"), ("2k", tmp_path / "cut")):
        assert make_cpt_data.main(["--tokenizer_dir", corpus["tok_base"], "--output_dir", str(out),
                                   "--asr_units", units, "--asr_text", text, "--max_len", "256",
                                   "--speech_text_ratio", "none", "--max_tokens", budget]) == 0
    full, cut = read_stats(str(tmp_path / "all")), read_stats(str(tmp_path / "cut"))
    assert full["config"]["max_tokens"] is None and full["real_tokens"] == full["speech_tokens_available"]
    assert cut["config"]["max_tokens"] == 2000 and 1500 < cut["real_tokens"] <= 2000
