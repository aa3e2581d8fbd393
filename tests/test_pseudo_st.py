"""Pseudo-labelled ST (stage 9): the QE filter keeps exactly the pairs at or above the threshold,
direct/multi-turn samples are disjoint and deterministic, a missing CometKiwi model stops the run
unless --qe_filter false is explicit, and one end-to-end run with a tiny random causal LM as the
translator and a REAL tiny CometKiwi checkpoint (COMET environment)."""

from __future__ import annotations

import json
import math
import os

import pytest

import lm_fixtures as F
from espnet_spire.bin import make_pseudo_st
from espnet_spire.common.kaldi_dir import read_kaldi_dict, sort_key
from espnet_spire.pseudo import st as P

# ------------------------------------------------------------------ unit tests (fake scores)


def test_qe_filter_keeps_exactly_at_or_above_threshold():
    ids = [f"u{i}" for i in range(9)]
    scores = [0.9, 0.85, 0.8499999, 0.1, float("nan"), 1.0, -0.3, 0.85000001, 0.0]
    assert P.qe_filter(ids, scores, 0.85) == ["u0", "u1", "u5", "u7"]
    assert P.qe_filter(ids, scores, -1.0) == [i for i, s in zip(ids, scores) if not math.isnan(s)]
    assert P.qe_filter(ids, scores, 2.0) == []
    with pytest.raises(ValueError, match=f"{len(ids)} ids but 3 scores"):
        P.qe_filter(ids, scores[:3], 0.5)


def test_split_direct_multiturn():
    ids = [f"spk{i % 3}-utt{i:03d}" for i in range(100)]
    d, m = P.split_direct_multiturn(ids, 30, 20, seed=0, lang="de")
    assert len(d) == 30 and len(m) == 20 and not set(d) & set(m)
    assert set(d) | set(m) <= set(ids)
    assert d == sorted(d, key=sort_key) and m == sorted(m, key=sort_key)
    # deterministic, independent of the input order; different per language and seed
    assert (d, m) == P.split_direct_multiturn(list(reversed(ids)), 30, 20, seed=0, lang="de")
    assert (d, m) != P.split_direct_multiturn(ids, 30, 20, seed=0, lang="fr")
    assert (d, m) != P.split_direct_multiturn(ids, 30, 20, seed=1, lang="de")
    # too few: everything used, shared in the ratio of the requested sizes
    d, m = P.split_direct_multiturn(ids[:10], 60, 40, seed=0, lang="de")
    assert (len(d), len(m)) == (6, 4) and not set(d) & set(m)
    assert [len(x) for x in P.split_direct_multiturn(ids[:1], 5, 5, 0, "de")] == [1, 0]
    assert [len(x) for x in P.split_direct_multiturn(ids[:5], 4, 3, 0, "de")] == [3, 2]
    assert P.split_direct_multiturn([], 5, 5, 0, "de") == ([], [])


def test_missing_qe_model_stops(tmp_path, capsys):
    text = tmp_path / "text"
    text.write_text("a-1 hello world\n", encoding="utf-8")
    with pytest.raises(P.PseudoSTError, match="--qe_filter false"):
        P.run_pseudo_st(text, tmp_path / "out", P.PseudoSTConfig(translator_model="x"))
    with pytest.raises(SystemExit) as e:
        make_pseudo_st.main(["--text", str(text), "--out_dir", str(tmp_path / "out"),
                             "--translator_model", str(tmp_path / "nomodel")])
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert "No CometKiwi model configured" in err and "wmt22-cometkiwi-da" in err


# ------------------------------------------------------------------ end to end


@pytest.fixture(scope="module")
def translator(tmp_path_factory):
    """A tiny random instruct LM (chat template) saved with its tokenizer."""
    root = str(tmp_path_factory.mktemp("translator"))
    built = F.build_tokenizers(root, num_units=8)
    return F.save_tiny_model(os.path.join(root, "model"), built["tok_instruct"], seed=3)


@pytest.fixture(scope="module")
def transcripts(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    lines = F.ntrex_lines("en", 14)
    path = d / "text"
    rows = [f"spk{i % 2}-utt{i:03d} {s}" for i, s in enumerate(lines)] + ["spk9-utt999 "]
    path.write_text("\n".join(sorted(rows, key=lambda r: sort_key(r.split()[0]))) + "\n", encoding="utf-8")
    return path


def test_prompt_rendering(translator):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(translator, local_files_only=True)
    [p] = P.build_prompts(tok, ["Hello world."], "en", "de", None)
    assert p == ("<|im_start|>user\nTranslate the following text from English to German.\n"
                 "English: Hello world.\nGerman:<|im_end|>\n<|im_start|>assistant\n")  # vector 14
    [q] = P.build_prompts(tok, ["Hello world."], "en", "zh", False)
    assert q == "Translate the following text from English to Chinese.\nEnglish: Hello world.\nChinese:"


def test_end_to_end_with_tiny_lm_and_real_cometkiwi(tmp_path, translator, transcripts):
    from _comet_helpers import tiny_comet

    kiwi = tiny_comet("kiwi")
    out = tmp_path / "pseudo"
    base = ["--text", str(transcripts), "--out_dir", str(out), "--translator_model", translator,
            "--tgt_langs", "de zh ko", "--max_new_tokens", "6", "--batch_size", "4", "--device", "cpu",
            "--qe_model", str(kiwi), "--n_direct", "4", "--n_multiturn", "3", "--seed", "5"]
    make_pseudo_st.main(base + ["--threshold", "0.85"])
    rep = json.loads((out / "report.json").read_text())
    assert rep["n_sources"] == 14 and rep["n_empty_transcripts"] == 1
    assert rep["threshold"] == 0.85 and rep["qe_model"] == str(kiwi)
    assert rep["prompt_example"].startswith("<|im_start|>user\nTranslate the following text from English to German.")
    for lang in ("de", "zh", "ko"):
        tr = read_kaldi_dict(out / "translations" / f"text.tc.{lang}")
        assert len(tr) == 14
        assert all("\n" not in v for v in tr.values())
    # pick a threshold in the middle of the real scores, rerun from the caches
    scores = {lang: {k: float(v) for k, v in read_kaldi_dict(out / "qe" / f"cometkiwi.{lang}").items()}
              for lang in ("de", "zh", "ko")}
    allv = sorted(v for d in scores.values() for v in d.values())
    thr = allv[len(allv) // 2]
    mtime = (out / "translations" / "text.tc.de").stat().st_mtime_ns
    qtime = (out / "qe" / "cometkiwi.ko").stat().st_mtime_ns
    make_pseudo_st.main(base + ["--threshold", repr(thr), "--translator_model", translator])
    assert (out / "translations" / "text.tc.de").stat().st_mtime_ns == mtime  # reused, not redone
    assert (out / "qe" / "cometkiwi.ko").stat().st_mtime_ns == qtime
    assert json.loads((out / "qe" / "info.json").read_text())["qe_model"] == str(kiwi)
    rep = json.loads((out / "report.json").read_text())
    for lang in ("de", "zh", "ko"):
        expect = sorted((k for k, s in scores[lang].items() if s >= thr), key=sort_key)
        direct = read_kaldi_dict(out / "direct" / f"text.tc.{lang}")
        multi = read_kaldi_dict(out / "multiturn" / f"text.tc.{lang}")
        assert not set(direct) & set(multi)
        assert set(direct) | set(multi) <= set(expect)
        assert rep["pairs"][f"en_{lang}"]["kept"] == len(expect)
        d, m = P.split_direct_multiturn(expect, 4, 3, 5, lang)
        assert list(direct) == d and list(multi) == m  # sorted Kaldi files, deterministic sample
        tr = read_kaldi_dict(out / "translations" / f"text.tc.{lang}")
        assert all(direct[k] == tr[k] for k in direct)
    assert "keep score >=" in (out / "report.md").read_text()


def test_qe_filter_false_keeps_all_and_says_so(tmp_path, translator, transcripts):
    out = tmp_path / "nofilter"
    make_pseudo_st.main(["--text", str(transcripts), "--out_dir", str(out), "--translator_model", translator,
                         "--tgt_langs", "fr", "--max_new_tokens", "4", "--device", "cpu",
                         "--qe_filter", "false", "--n_direct", "100", "--n_multiturn", "100"])
    rep = json.loads((out / "report.json").read_text())
    assert rep["qe_filter"] is False and rep["threshold"] is None and "switched off" in rep["qe_filter_note"]
    p = rep["pairs"]["en_fr"]
    assert p["kept"] == p["total"] - p["empty_translations"] == p["direct"] + p["multiturn"]
    assert "**OFF**" in (out / "report.md").read_text()
    assert not (out / "qe" / "cometkiwi.fr").exists()
