"""WER/CER scoring: normalisers (compat vector 18), micro-average (vector 19), ESPnet trn files,
sclite vs the Python scorer on identical inputs, and the score_decode_dir CLI for ASR.

sclite (Debian sctk) is part of the project's install: these tests fail, not skip, without it.
"""

from __future__ import annotations

import json
import random

import pytest

from espnet_spire.bin import score_decode_dir
from espnet_spire.scoring import wer
from espnet_spire.scoring.normalize import get_normalizer


def _summary_part(report: str) -> str:
    return report.split("DUMP OF SYSTEM ALIGNMENT STRUCTURE")[0]


@pytest.fixture(scope="module")
def sclite():
    exe = wer.find_sclite()
    assert exe is not None, "sclite not found: install Debian sctk (make install does it as root)"
    return exe


# ------------------------------------------------------------------ vectors 18 and 19


def test_vector18_normalizers():
    eng = get_normalizer("whisper")
    assert eng("Hello, Mr. Smith! It's 5 o'clock.\n") == "hello mister smith it is 50 clock"
    assert eng("hmm uh okay") == "okay"
    assert eng("Ünïcödé café — naïve") == "unicode cafe naive"
    basic = get_normalizer("basic")
    assert basic("Hello, Mr. Smith! It's 5 o'clock.\n") == "hello mr smith it s 5 o clock "
    assert get_normalizer("none")("Hello, World") == "Hello, World"
    with pytest.raises(ValueError, match="unknown text normaliser 'klingon'"):
        get_normalizer("klingon")


V19_PREDS = ["this is the prediction", "there is an other sample"]
V19_REFS = ["this is the reference", "there is another one"]


def test_vector19_micro_average_python():
    assert wer.corpus_error_rate(V19_REFS, V19_PREDS) == 0.5
    import jiwer  # SpireLM's compute_wer.py uses jiwer (through evaluate)

    assert jiwer.wer(V19_REFS, V19_PREDS) == 0.5


@pytest.mark.parametrize("backend", ["sclite", "python"])
def test_vector19_score_dir(tmp_path, backend, sclite):
    res = wer.score_dir(["u1", "u2"], V19_REFS, V19_PREDS, tmp_path, backend=backend)
    assert res["backend"] == backend
    assert res["wer"] == 0.5 and res["percent"] == 50.0
    assert res["counts"]["wrd"] == 8 and res["counts"]["err"] == 4
    on_disk = json.loads((tmp_path / "result.json").read_text())
    assert on_disk["wer"] == 0.5 and on_disk["normalizer"] == "whisper"


# ------------------------------------------------------------------ trn files


def test_trn_layout_word_and_char(tmp_path):
    utts = wer.score_utterances(
        ["utt1", "utt2"], ["Hello  world", "a (b) c"], ["hello word", ""], "word", {"utt1": "spkA", "utt2": "spkB"}
    )
    wer.write_trn_files(utts, tmp_path / "ref.trn", tmp_path / "hyp.trn")
    assert (tmp_path / "ref.trn").read_text() == "Hello world\t(spkA-utt1)\na -LRB-b-RRB- c\t(spkB-utt2)\n"
    assert (tmp_path / "hyp.trn").read_text() == "hello word\t(spkA-utt1)\n\t(spkB-utt2)\n"
    assert wer.tokenize(" ab  c ", "char") == ["a", "b", "<space>", "c"]
    assert wer.tokenize("猫坐", "char") == ["猫", "坐"]


def test_sclite_case_rule_reproduced():
    # sclite compares ASCII case-insensitively, other letters exactly
    ops = wer.align(["Hello", "École", "été"], ["hello", "école", "Été"])
    assert [o[0] for o in ops] == ["C", "S", "S"]


# ------------------------------------------------------------------ sclite == python


def _random_set(seed: int, n: int = 150):
    rng = random.Random(seed)
    vocab = ["a", "b", "c", "The", "the", "É", "é", "x(y)", "{z}", "naïve", "猫", ";", "*", "/", "dog's", "don't"]
    spks = ["s1", "speakerlongname", "A-b", "x"]
    ids, refs, hyps, u2s = [], [], [], {}
    for k in range(n):
        u = f"u{k:04d}"
        ids.append(u)
        u2s[u] = rng.choice(spks)
        refs.append(" ".join(rng.choice(vocab) for _ in range(rng.randint(0, 9))))
        hyps.append(" ".join(rng.choice(vocab) for _ in range(rng.randint(0, 9))))
    return ids, refs, hyps, u2s


@pytest.mark.parametrize("level", ["word", "char"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sclite_and_python_agree(tmp_path, level, seed, sclite):
    """Same trn files, both scorers: identical summary tables (byte for byte) and counts."""
    ids, refs, hyps, u2s = _random_set(seed)
    utts = wer.score_utterances(ids, refs, hyps, level, u2s)
    wer.write_trn_files(utts, tmp_path / "ref.trn", tmp_path / "hyp.trn")
    sc = wer.run_sclite(sclite, tmp_path)
    py = wer.format_report(utts)
    assert _summary_part(py) == _summary_part(sc)
    assert wer.parse_report(py) == wer.parse_report(sc)


def test_per_utterance_counts_match_sclite(tmp_path, sclite):
    """sclite's #C #S #D #I per utterance == our alignment (weights 3/3/4, its tie-breaking)."""
    import re

    rng = random.Random(7)
    ids = [f"u{k:04d}" for k in range(300)]
    refs = [" ".join(rng.choice("abc") for _ in range(rng.randint(0, 12))) for _ in ids]
    hyps = [" ".join(rng.choice("abc") for _ in range(rng.randint(0, 12))) for _ in ids]
    utts = wer.score_utterances(ids, refs, hyps, "word", None)
    wer.write_trn_files(utts, tmp_path / "ref.trn", tmp_path / "hyp.trn")
    sc = wer.run_sclite(sclite, tmp_path)
    pattern = r"id: \((\S+)\)\nScores: \(#C #S #D #I\) ([\d ]+)\n"
    got = {m[0]: tuple(map(int, m[1].split())) for m in re.findall(pattern, sc)}
    for u in utts:
        c = u.counts
        assert got[f"{u.uttid}-{u.uttid}"] == (c.corr, c.sub, c.dele, c.ins), u.uttid


def test_python_rounding_is_sclites_half_up(tmp_path, sclite):
    # 1 error in 16 words = 6.25 % -> sclite prints 6.3 (half up), Python's "%.1f" would print 6.2
    ref = " ".join(f"w{i}" for i in range(16))
    hyp = "zz " + " ".join(f"w{i}" for i in range(1, 16))
    a = wer.score_dir(["u"], [ref], [hyp], tmp_path / "s", backend="sclite", normalizer="none")
    b = wer.score_dir(["u"], [ref], [hyp], tmp_path / "p", backend="python", normalizer="none")
    assert a["sum_avg"] == b["sum_avg"] and a["percent"] == 6.3


def test_backend_sclite_fails_loudly_when_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(wer, "find_sclite", lambda explicit=None: None)
    with pytest.raises(FileNotFoundError, match="sclite not found"):
        wer.score_dir(["u"], ["a"], ["a"], tmp_path, backend="sclite")
    res = wer.score_dir(["u"], ["a b"], ["a"], tmp_path, backend="auto")
    assert res["backend"] == "python" and res["percent"] == 50.0


# ------------------------------------------------------------------ the CLI on a decode dir


def _write(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def test_score_decode_dir_asr(tmp_path, sclite, capsys):
    data = tmp_path / "data" / "test"
    _write(data / "text", ["spk1-u1 Hello, Mr. Smith!", "spk1-u2 The colour is red.", "spk2-u3 it's five o'clock"])
    _write(data / "utt2spk", ["spk1-u1 spk1", "spk1-u2 spk1", "spk2-u3 spk2"])
    dec = tmp_path / "exp" / "m" / "decode_greedy" / "test" / "asr"
    _write(dec / "text", ["spk1-u1 hello mister smith", "spk1-u2 the color is read"])  # u3 missing
    score_decode_dir.main(["--task", "asr", "--ref", str(data / "text"), "--hyp_dir", str(dec)])
    out = capsys.readouterr().out
    assert "wer=" in out
    s = json.loads((dec / "scores.json").read_text())
    # whisper normalisation: refs "hello mister smith" / "the color is red" / "it is 5 o'clock"...
    assert s["n_missing_hyps"] == 1 and s["task"] == "asr"
    w = json.loads((dec / "score_wer" / "result.json").read_text())
    assert w["backend"] == "sclite"
    assert w["counts"]["sub"] == 1  # read/red
    assert w["counts"]["del"] == len(get_normalizer("whisper")("it's five o'clock").split())
    assert s["metrics"]["wer"] == w["percent"]
    assert (dec / "score_cer" / "result.txt").read_text().count("Sum/Avg") == 1
    ref_trn = (dec / "score_wer" / "ref.trn").read_text().splitlines()
    assert ref_trn[0] == "hello mister smith\t(spk1-spk1-u1)"
    cer_hyp = (dec / "score_cer" / "hyp.trn").read_text().splitlines()
    assert cer_hyp[0].startswith("h e l l o <space> m i s t e r")
    # python backend gives the same numbers
    dec2 = tmp_path / "exp" / "m" / "decode_greedy" / "test2" / "asr"
    _write(dec2 / "text", (dec / "text").read_text().splitlines())
    score_decode_dir.main(["--task", "asr", "--ref", str(data / "text"), "--hyp_dir", str(dec2),
                           "--wer_backend", "python"])
    s2 = json.loads((dec2 / "scores.json").read_text())
    assert s2["metrics"]["wer"] == s["metrics"]["wer"] and s2["metrics"]["cer"] == s["metrics"]["cer"]
    assert s2["wer_sum_avg"] == s["wer_sum_avg"]


def test_score_decode_dir_rejects_wrong_reference(tmp_path, capsys):
    data = tmp_path / "data"
    _write(data / "text", ["a-1 hello"])
    dec = tmp_path / "dec" / "asr"
    _write(dec / "text", ["b-9 hello"])
    with pytest.raises(SystemExit) as e:
        score_decode_dir.main(["--task", "asr", "--ref", str(data / "text"), "--hyp_dir", str(dec)])
    assert e.value.code == 1
    assert "1 hypothesis ids are not in the reference, e.g. ['b-9']" in capsys.readouterr().err
