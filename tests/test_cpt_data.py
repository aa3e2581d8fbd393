"""Stage 7: CPT documents, speech:text mixing, packing, padding share and the skipped list."""

import json
import os
import random

import numpy as np
import pytest

import lm_fixtures as F
from espnet_spire.lm.cpt_data import CptConfig, build_cpt_data, pack, parse_ratio, select
from espnet_spire.lm.token_data import read_split, read_stats
from espnet_spire.units.dsu_format import pua

K = 100
MAX_LEN = 256


write = F.write_lines


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("cpt"))
    built = F.build_tokenizers(root, num_units=K)
    rng = np.random.default_rng(0)
    en = F.ntrex_lines("en", 60)
    units, text = [], []
    for i in range(40):
        units.append(f"utt{i:03d} {F.random_units(rng, int(rng.integers(10, 80)), K)}")
        text.append(f"utt{i:03d} {en[i]}")
    units += ["bad_pua utt", "empty_units", f"beyond_k {pua(K + 3)}", "indices 3 4 5", f"leak {pua(1)}",
              f"xid {pua(2)}", f"long {pua(5)}"]
    text += ["bad_pua hello", "empty_units hello", "beyond_k hello", "indices hello indices",
             f"leak hello {pua(7)} world", "xid hello <extra_id_3>", "long " + " ".join(["word"] * 400),
             "only_text no units here"]
    write(os.path.join(root, "units"), units)
    write(os.path.join(root, "text"), text)
    mt = os.path.join(root, "mt")
    for lang in ("en", "de", "fr"):
        lines = F.ntrex_lines(lang, 20, start=60)
        if lang == "de":
            lines[3] = lines[3] + " " + pua(9)
        write(os.path.join(mt, f"text.tc.{lang}"), [f"mt{i:03d} {s}" for i, s in enumerate(lines)])
    mono = os.path.join(root, "mono", "text.tc.de")
    write(mono, [f"mono{i:03d} {s}" for i, s in enumerate(F.ntrex_lines("de", 30, start=90))])
    out = os.path.join(root, "out")
    cfg = CptConfig(max_len=MAX_LEN, speech_text_ratio=2.0, seed=3, mt_langs=("de", "fr"))
    stats = build_cpt_data(built["tok_base"], out, cfg, [(os.path.join(root, "units"), os.path.join(root, "text"))],
                           [mt], [mono])
    return {"root": root, "out": out, "stats": stats, **built}


def test_parse_ratio():
    assert parse_ratio("5:1") == 5.0 and parse_ratio("5") == 5.0 and parse_ratio("none") is None
    assert parse_ratio("1:2") == 0.5


def test_contract_files(setup):
    out = setup["out"]
    for name in ("input_ids", "loss_mask", "stats.json", "tokenizer_dir", "skipped", "seq2docs"):
        assert os.path.isfile(os.path.join(out, name)), name
    assert open(os.path.join(out, "tokenizer_dir")).read().strip() == os.path.abspath(setup["tok_base"])
    rows = list(read_split(out))
    keys = [k for k, _, _ in rows]
    assert keys == sorted(keys, key=lambda k: k.encode()) and len(set(keys)) == len(keys)
    assert all(len(ids) == MAX_LEN == len(mask) for _, ids, mask in rows)
    stats = read_stats(out)
    assert stats["sequences"] == len(rows) and stats["tokens"] == MAX_LEN * len(rows)


def split_docs(ids, mask, bos=1):
    """Documents of a packed sequence: runs starting at a masked BOS, ending at their EOS."""
    starts = [i for i, (t, m) in enumerate(zip(ids, mask)) if t == bos and m == 0]
    docs = []
    for s in starts:
        e = s + 1
        while mask[e] == 1 and ids[e] != 2:
            e += 1
        docs.append(ids[s:e + 1])
    return docs


def test_packing_padding_and_masks(setup):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(setup["tok_base"])
    unit0 = tok.convert_tokens_to_ids(pua(0))
    stats = read_stats(setup["out"])
    with open(os.path.join(setup["out"], "seq2docs"), encoding="utf-8") as f:
        seq2docs = dict(line.split(" ", 1) for line in f.read().splitlines())
    n_docs = pads = real = 0
    for key, ids, mask in read_split(setup["out"]):
        docs = split_docs(ids, mask)
        names = seq2docs[key].split()
        assert len(docs) == len(names)
        used = sum(len(d) for d in docs)
        assert all(t == tok.pad_token_id and m == 0 for t, m in zip(ids[used:], mask[used:]))
        starts = {sum(len(d) for d in docs[:j]) for j in range(len(docs))}
        assert [mask[i] for i in range(used)] == [0 if i in starts else 1 for i in range(used)]
        for name, d in zip(names, docs):
            assert d[0] == 1 and d[-1] == 2
            text = tok.decode(d[1:-1])
            n_unit_ids = sum(1 for t in d if unit0 <= t < unit0 + K)
            if name.startswith("utt") or name == "indices":
                assert text.startswith("Speech:") and " English: " in text
                assert n_unit_ids == sum(1 for c in text if 0xF0000 <= ord(c) < 0xF0000 + K) > 0
            else:
                assert n_unit_ids == 0, name  # text documents never contain unit tokens
                if name.startswith("mt"):
                    assert text.split(":", 1)[0] in ("English", "German", "French")
        n_docs += len(docs)
        pads += MAX_LEN - used
        real += used
    assert stats["documents"] == n_docs and stats["pad_tokens"] == pads and stats["real_tokens"] == real
    assert stats["padding_share"] == pytest.approx(pads / (MAX_LEN * stats["sequences"]))
    assert stats["loss_tokens"] == real - n_docs  # all real tokens but the BOS of each document
    assert 0 <= stats["padding_share"] < 0.3


def test_units_as_context_only(setup, tmp_path):
    """loss_on_units=False: same sequences, mask 0 exactly on the unit tokens and the BOS."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(setup["tok_base"])
    unit0 = tok.convert_tokens_to_ids(pua(0))
    root = setup["root"]
    cfg = CptConfig(max_len=MAX_LEN, speech_text_ratio=2.0, seed=3, mt_langs=("de", "fr"), loss_on_units=False)
    out = str(tmp_path / "ctx")
    stats = build_cpt_data(setup["tok_base"], out, cfg, [(os.path.join(root, "units"), os.path.join(root, "text"))],
                           [os.path.join(root, "mt")], [os.path.join(root, "mono", "text.tc.de")])
    full = {k: (ids, mask) for k, ids, mask in read_split(setup["out"])}
    n_units = 0
    for key, ids, mask in read_split(out):
        ref_ids, ref_mask = full[key]
        assert list(ids) == list(ref_ids)
        for t, m, rm in zip(ids, mask, ref_mask):
            is_unit = unit0 <= t < unit0 + K
            n_units += is_unit
            assert m == (0 if is_unit else rm)
    assert n_units > 0
    assert stats["loss_tokens"] == setup["stats"]["loss_tokens"] - n_units
    assert stats["config"]["loss_on_units"] is False


def test_speech_text_ratio(setup):
    s = setup["stats"]
    assert s["ratio_target"] == 2.0
    # the larger side was cut; achieved ratio within one document of the target
    assert s["speech_tokens"] + s["text_tokens"] == s["real_tokens"]
    longest = 80 + 40
    assert abs(s["speech_tokens"] - 2.0 * s["text_tokens"]) <= 2 * longest
    if s["speech_tokens_available"] > 2 * s["text_tokens_available"]:
        assert s["text_tokens"] == s["text_tokens_available"]
    else:
        assert s["speech_tokens"] == s["speech_tokens_available"]
    assert set(s["sources"]) == {"asr", "mt:en-de", "mt:de-en", "mt:en-fr", "mt:fr-en", "mono:de"}
    assert s["cpt_format"] == {"speech_prefix": "Speech:", "unit_sep": "", "field_sep": " ", "answer_sep": " "}


def test_skipped_list(setup):
    lines = open(os.path.join(setup["out"], "skipped"), encoding="utf-8").read().splitlines()
    reasons = {line.split()[0]: line.split()[1] for line in lines}
    assert reasons["bad_pua"] == "bad_units"
    assert reasons["empty_units"] == "empty_units"
    assert reasons["beyond_k"] == "bad_units"
    assert reasons["leak"] == "unit_chars_in_text"
    assert reasons["xid"] == "extra_id_in_text"
    assert reasons["long"] == "too_long"
    assert reasons["only_text"] == "no_units"
    assert reasons["mt003-en-de"] == "unit_chars_in_text"
    assert "indices" not in reasons  # index-format units are converted, not skipped
    assert setup["stats"]["skipped"] == len(lines)


def test_pack_first_fit():
    rnd = random.Random(0)
    lengths = [rnd.randint(5, 200) for _ in range(500)]
    bins = pack(lengths, 256, window=16)
    flat = sorted(i for b in bins for i in b)
    assert flat == list(range(500))
    assert all(sum(lengths[i] for i in b) <= 256 for b in bins)
    share = 1 - sum(lengths) / (256 * len(bins))
    nextfit, room = 1, 256
    for n in lengths:
        if n > room:
            nextfit, room = nextfit + 1, 256
        room -= n
    assert len(bins) <= nextfit and share < 0.1
    with pytest.raises(ValueError, match="item 0 has 300 tokens > max_len 256"):
        pack([300], 256)


def test_select_cuts_the_larger_side():
    kinds = [0] * 100 + [1] * 10   # 100 speech documents, 10 text ones, 10 tokens each
    keep, info = select(kinds, [10] * 110, 5.0, None, 0)
    assert info["text_tokens"] == 100 and info["speech_tokens"] == 500 and info["ratio_achieved"] == 5.0
    keep, info = select(kinds, [10] * 110, 5.0, 300, 0)
    assert info["speech_tokens"] + info["text_tokens"] <= 300 and info["ratio_achieved"] == pytest.approx(5.0, rel=0.25)
    keep, info = select(kinds, [10] * 110, None, None, 0)
    assert len(keep) == 110


def test_cli_with_yaml_config(setup, tmp_path):
    from espnet_spire.bin import make_cpt_data

    cfg = tmp_path / "cpt.yaml"
    cfg.write_text("max_len: 512\nspeech_text_ratio: 'none'\nseed: 1\npad_to_max_len: false\nmt_langs: [de]\n")
    out = str(tmp_path / "cli")
    root = setup["root"]
    assert make_cpt_data.main(["--config", str(cfg), "--tokenizer_dir", setup["tok_base"], "--output_dir", out,
                               "--asr_units", os.path.join(root, "units"), "--asr_text", os.path.join(root, "text"),
                               "--mt_dir", os.path.join(root, "mt"), "--field_sep", "\n"]) == 0
    stats = json.load(open(os.path.join(out, "stats.json")))
    assert stats["config"]["max_len"] == 512 and stats["ratio_target"] is None
    assert set(stats["sources"]) == {"asr", "mt:en-de", "mt:de-en"}
    assert stats["cpt_format"]["field_sep"] == "\n"
    rows = list(read_split(out))
    assert all(len(ids) <= 512 for _, ids, _ in rows) and any(len(ids) < 512 for _, ids, _ in rows)
