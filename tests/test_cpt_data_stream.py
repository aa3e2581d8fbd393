"""The streaming CPT builder writes the same bytes as the in-memory builder it replaced.

Every file of a split is pinned by its sha256 (paths of the scratch dir replaced by ``ROOT``), over
options that take different paths (ratio cuts, budget, random MT directions, units as context, no
padding, unsorted inputs that fall back to in-memory reading, skips of every kind). The hashes were
recorded when the streaming builder replaced the in-memory one (main f199714), after a test built
each case with both and found every file identical; the demo's CPT data did not change either.
"""

import hashlib
import os
import random

import numpy as np
import pytest

import lm_fixtures as F
from espnet_spire.lm.cpt_data import CptConfig, build_cpt_data, pack, pack_stream, select
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


EXPECTED_SHA256 = {
    "budget_random": {
        "input_ids": "bb66f66c93f19195f9a29c5568bc50473e48ebfa8172af527a78aff24beaafe8",
        "loss_mask": "13f83e6e2ac21b9f1bbbba4cd181dc36e2346559012a70b996a20f97bfcd8ce1",
        "seq2docs": "be6cfb7d7d3e81a575c6bf7aa59523db0c47208a1a6a13fa4425cac0a06500b2",
        "skipped": "d8e794710f943e831aec28cb3cb362edceb0e20688e28471711f68abefaf6dc7",
        "spire.json": "7d786399e2f0530750860e0a15b2f5ccba469daef9d3c634383b81830301dc8d",
        "stats.json": "96d924a01ec66443a48e7ec4a672924c4d5c7dd3d5c1843b9b537c77b535a35b",
        "tokenizer_dir": "e19f553bbfa4b6ead86da34637486983efa6ce647922205d0559310bad54d56c",
    },
    "context_units_nopad": {
        "input_ids": "f82d9ac1c15272f4cf123594965b3a554e08b0f126d4dbbebbe3b1e786577c94",
        "loss_mask": "16988a0fb8b8b750a1ebab42957c47b736c0678eaa5b566712d88e73cb44b6ff",
        "seq2docs": "0dfd0f656c17d29f2dfdc4ef61a5a8f5775f4a67547bda9bdfcb696e0241e74d",
        "skipped": "60cd41a9de7246c792c1c53b07de3ea400f6422e2273a12ed30dc97e49d3e26c",
        "spire.json": "9670a2b575c7998f1bb7c1ab12f01e8cdc4b8746bbfd925dcfdee1cf5c899987",
        "stats.json": "cb759baab870da93ae7e876d0351af56060a2f5c995da6b6564cea2b0a623182",
        "tokenizer_dir": "e19f553bbfa4b6ead86da34637486983efa6ce647922205d0559310bad54d56c",
    },
    "ratio": {
        "input_ids": "3889483fab6b50533e83d2884dd2aeb793e45118e31f3158eb1ee9c20837f920",
        "loss_mask": "216f3ece815cec4e6fce6216dc404e83679b4151621214a7483340f07d907722",
        "seq2docs": "644c9d7e935f7c52f760e13c00061fa7c105bdb7b67a6893f619223cfb258ee1",
        "skipped": "3d88c3b43bc7f7334e398c74a681ddb3169b615d2029f0bae57189bde80c5646",
        "spire.json": "7d786399e2f0530750860e0a15b2f5ccba469daef9d3c634383b81830301dc8d",
        "stats.json": "bf0be171260897fb759ee6ac6f51ed0c54fe9c74b706dd36fbc03fe49d1475ca",
        "tokenizer_dir": "e19f553bbfa4b6ead86da34637486983efa6ce647922205d0559310bad54d56c",
    },
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_bytes_as_the_in_memory_builder(corpus, case):
    out = os.path.join(corpus["root"], case)
    build_cpt_data(corpus["tok_base"], out, CptConfig(**CASES[case]), *corpus["inputs"])
    files = sorted(f for f in os.listdir(out) if os.path.isfile(os.path.join(out, f)))
    assert files == sorted(EXPECTED_SHA256[case])
    root = corpus["root"].encode()
    for name in files:
        with open(os.path.join(out, name), "rb") as f:
            digest = hashlib.sha256(f.read().replace(root, b"ROOT")).hexdigest()
        assert digest == EXPECTED_SHA256[case][name], f"{case}/{name} changed"
    # the on-disk document store is removed
    assert not [d for d in os.listdir(corpus["root"]) if ".docs." in d]


def _first_fit(lengths, max_len):
    """The definition: every item goes into the first bin (in creation order) with room for it."""
    bins, room = [], []
    for i, n in enumerate(lengths):
        for b, r in enumerate(room):
            if r >= n:
                bins[b].append(i)
                room[b] -= n
                break
        else:
            bins.append([i])
            room.append(max_len - n)
    return bins


def test_pack_stream_is_windowed_first_fit():
    r = random.Random(0)
    lengths = [r.choice([1, 5, 17, 50, 64, 64, 30]) for _ in range(500)]
    # with a window over every bin, streaming packing is plain first-fit
    assert list(pack_stream(iter(lengths), 64, 10**6)) == pack(lengths, 64, 10**6) == _first_fit(lengths, 64)
    for window in (1, 2, 64):
        bins = list(pack_stream(iter(lengths), 64, window))
        assert sorted(i for b in bins for i in b) == list(range(len(lengths)))   # each item once
        assert all(b == sorted(b) and sum(lengths[i] for i in b) <= 64 for b in bins)
        assert len(bins) >= len(_first_fit(lengths, 64))
    with pytest.raises(ValueError, match="item 1 has 65 tokens > max_len 64"):
        list(pack_stream(iter([3, 65]), 64))


def test_select_ratio_and_budget():
    r = random.Random(2)
    kinds = [r.choice([0, 1]) for _ in range(300)]   # 0 speech, 1 text
    lengths = [r.randint(1, 90) for _ in range(300)]
    speech = sum(n for k, n in zip(kinds, lengths) if k == 0)
    text = sum(n for k, n in zip(kinds, lengths) if k == 1)
    keep, info = select(kinds, lengths, None, None, 4)
    assert sorted(keep) == list(range(300)) and (info["speech_tokens"], info["text_tokens"]) == (speech, text)
    for ratio, budget in ((5.0, None), (0.5, 2000)):
        keep, info = select(kinds, lengths, ratio, budget, 4)
        assert len(set(keep)) == len(keep)
        used = [sum(lengths[i] for i in keep if kinds[i] == k) for k in (0, 1)]
        assert used == [info["speech_tokens"], info["text_tokens"]]
        if budget:
            assert sum(used) <= budget
        # the larger side is cut to the ratio (within one document's length)
        assert abs(used[0] - ratio * used[1]) <= 90 * (1 + ratio)
        assert list(select(kinds, lengths, ratio, budget, 4)[0]) == list(keep)   # seeded
        assert list(select(kinds, lengths, ratio, budget, 5)[0]) != list(keep)


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
