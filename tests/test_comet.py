"""COMET-22 / CometKiwi through the separate COMET environment, with REAL tiny checkpoints.

The COMET environment (tools/comet_venv) comes from `make install-comet`; without it the tests
that need it skip, and fail under CI=true.  The tiny models are built with
unbabel-comet itself (tests/_comet_helpers.py), so the whole path is real: checkpoint loading,
tokenisation, the regression heads, ``predict``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from _comet_helpers import ensure_comet_env, tiny_comet
from espnet_spire.bin import score_comet, score_decode_dir
from espnet_spire.scoring import comet

SRC = ["the cat sat on the mat", "hello world how are you", "a small model for tests", "the dog"]
MT = ["die Katze sitzt auf der Matte", "hallo Welt", "ein kleines Modell", "der Hund"]
REF = ["Die Katze saß auf der Matte.", "Hallo Welt, wie geht es dir?", "ein kleines Modell für Tests", "der Hund"]


def test_vector20_mean_comet():
    assert comet.mean_comet({"h.txt": [{"COMET": 0.8}, {"COMET": 0.6}]}) == {"h.txt": pytest.approx(0.7)}
    assert comet.mean_comet({"h.txt": [{"COMET": 0.8}, {"COMET": 0.6}]})["h.txt"] == float(np.mean([0.8, 0.6]))
    assert comet.system_score([0.25, 0.5, 0.75]) == 0.5


@pytest.fixture(scope="module")
def models():
    ensure_comet_env()
    return {"comet": tiny_comet("comet"), "kiwi": tiny_comet("kiwi")}


@pytest.fixture(scope="module")
def base_run(models):
    """COMET-22 (tiny) on the test segments, batch size 2, default precision (half)."""
    return comet.run_comet(SRC, MT, REF, models["comet"], batch_size=2)


@pytest.mark.slow
@pytest.mark.integration
def test_comet22_and_kiwi_scores(models, base_run):
    r = base_run
    assert len(r.scores) == len(SRC) and all(np.isfinite(r.scores))
    assert r.system_score == float(np.mean(r.scores))
    assert r.model_class == "regression_metric" and r.versions["unbabel-comet"] == "2.2.7"
    assert len(set(round(s, 6) for s in r.scores)) > 1  # inputs differ -> scores differ
    k = comet.run_comet(SRC, MT, None, models["kiwi"], batch_size=3)
    assert k.model_class == "referenceless_regression_metric" and len(k.scores) == len(SRC)
    assert k.system_score == pytest.approx(float(np.mean(k.scores)))


@pytest.mark.slow
@pytest.mark.integration
def test_same_as_official_comet_score_cli(models, base_run, tmp_path):
    """Our runner == `comet-score` of the COMET environment on the same files and checkpoint."""
    py = Path(ensure_comet_env())
    for name, lines in (("src", SRC), ("mt", MT), ("ref", REF)):
        (tmp_path / f"{name}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    ckpt = models["comet"] / "checkpoints" / "model.ckpt"
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [str(py.parent / "comet-score"), "-s", str(tmp_path / "src.txt"), "-t", str(tmp_path / "mt.txt"),
         "-r", str(tmp_path / "ref.txt"), "--model", str(ckpt), "--gpus", "0", "--batch_size", "2",
         "--to_json", str(tmp_path / "comet.json")],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    official = json.loads((tmp_path / "comet.json").read_text())
    segs = official[str(tmp_path / "mt.txt")]
    ours = base_run  # precision="half", as the command line
    assert ours.precision == "half"
    assert [s["COMET"] for s in segs] == pytest.approx(ours.scores, abs=1e-6)
    # SpireLM's mean_comet.py on the official JSON == our system score (vector 20)
    assert comet.mean_comet(official)[str(tmp_path / "mt.txt")] == pytest.approx(ours.system_score, abs=1e-7)
    full = comet.run_comet(SRC, MT, REF, models["comet"], batch_size=2, precision="float32")
    assert full.precision == "float32" and full.scores == pytest.approx(ours.scores, abs=1e-3)


@pytest.mark.slow
@pytest.mark.integration
def test_score_decode_dir_with_comet(models, base_run, tmp_path):
    ids = [f"u{k}" for k in range(len(SRC))]
    data = tmp_path / "data" / "test"
    data.mkdir(parents=True)
    (data / "text.tc.de").write_text("".join(f"{i} {t}\n" for i, t in zip(ids, REF)), encoding="utf-8")
    (data / "text.tc.en").write_text("".join(f"{i} {t}\n" for i, t in zip(ids, SRC)), encoding="utf-8")
    dec = tmp_path / "exp" / "m" / "decode" / "test" / "st_de"
    dec.mkdir(parents=True)
    (dec / "text").write_text("".join(f"{i} {t}\n" for i, t in zip(ids, MT)), encoding="utf-8")
    score_decode_dir.main([
        "--task", "st_de", "--ref", str(data / "text.tc.de"), "--hyp_dir", str(dec), "--spbleu", "false",
        "--comet_model", str(models["comet"]), "--cometkiwi_model", str(models["kiwi"]),
        "--comet_batch_size", "2",
    ])
    s = json.loads((dec / "scores.json").read_text())
    direct = base_run
    assert s["metrics"]["comet"] == pytest.approx(direct.system_score, abs=1e-6)
    assert s["src"].endswith("text.tc.en")  # found next to the reference
    seg = (dec / "score_comet" / "segment_scores").read_text().split("\n")
    assert seg[0].split()[0] == "u0" and float(seg[0].split()[1]) == pytest.approx(direct.scores[0], abs=1e-6)
    res = json.loads((dec / "score_comet" / "result.json").read_text())
    assert res["system_score"] == pytest.approx(np.mean([float(x.split()[1]) for x in seg if x]))
    assert "class:regression_metric" in s["signatures"]["comet"]
    assert "cometkiwi" in s["metrics"] and (dec / "score_cometkiwi" / "segments.json").is_file()


@pytest.mark.slow
@pytest.mark.integration
def test_score_comet_cli_plain(models, tmp_path, capsys):
    for name, lines in (("src", SRC), ("mt", MT)):
        (tmp_path / f"{name}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    score_comet.main(["--model", str(models["kiwi"]), "--src", str(tmp_path / "src.txt"),
                      "--hyp", str(tmp_path / "mt.txt"), "--out_dir", str(tmp_path / "out")])
    assert "cometkiwi = " in capsys.readouterr().out
    res = json.loads((tmp_path / "out" / "result.json").read_text())
    assert res["reference_free"] and res["n_segments"] == 4


def test_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(comet.CometError, match="never downloads"):
        comet.resolve_checkpoint("Unbabel/wmt22-comet-da")
    (tmp_path / "empty").mkdir()
    with pytest.raises(comet.CometError, match="not a COMET model directory"):
        comet.resolve_checkpoint(tmp_path / "empty")
    monkeypatch.setenv("SPIRE_COMET_PYTHON", "")
    monkeypatch.delenv("MAIN_ROOT", raising=False)
    monkeypatch.setattr(comet, "_repo_root", lambda: tmp_path)
    with pytest.raises(comet.CometError, match="make install-comet"):
        comet.find_comet_python()
    with pytest.raises(comet.CometError, match="does not exist"):
        comet.find_comet_python(tmp_path / "no_python")


@pytest.mark.slow
@pytest.mark.integration
def test_encoder_named_by_hub_id_needs_local_copy(models, base_run, tmp_path):
    """Real checkpoints name their encoder by hub id (xlm-roberta-large): offline, loading fails
    with a clear message unless --comet_encoder_dir gives a local copy; with it, same scores."""
    import shutil

    import yaml

    m = tmp_path / "hub_like"
    shutil.copytree(models["comet"], m)
    hp = yaml.safe_load((m / "hparams.yaml").read_text())
    hp["pretrained_model"] = "xlm-roberta-large"
    (m / "hparams.yaml").write_text(yaml.safe_dump(hp))
    with pytest.raises(comet.CometError, match="--comet_encoder_dir"):
        comet.run_comet(SRC, MT, REF, m, batch_size=2)
    r = comet.run_comet(SRC, MT, REF, m, batch_size=2, encoder_dir=m / "encoder")
    assert r.scores == pytest.approx(base_run.scores, abs=1e-6)


@pytest.mark.slow
@pytest.mark.integration
def test_score_list_runs_comet_once_for_many_dirs(models, tmp_path):
    """`score_decode_dir --list`: an ASR dir and two translation dirs in one process; COMET-22 and
    CometKiwi run once each over both translation dirs, and every dir gets the scores a run of its
    own gives."""
    ids = [f"u{k}" for k in range(len(SRC))]
    data = tmp_path / "data" / "test"
    data.mkdir(parents=True)
    for name, lines in (("text.tc.de", REF), ("text.tc.en", SRC), ("text", SRC)):
        (data / name).write_text("".join(f"{i} {t}\n" for i, t in zip(ids, lines)), encoding="utf-8")
    (data / "utt2spk").write_text("".join(f"{i} {i}\n" for i in ids), encoding="utf-8")
    dirs = {}
    for model, hyps in (("a", MT), ("b", MT[::-1])):
        d = tmp_path / "exp" / model / "decode" / "test" / "st_de"
        d.mkdir(parents=True)
        (d / "text").write_text("".join(f"{i} {t}\n" for i, t in zip(ids, hyps)), encoding="utf-8")
        dirs[model] = d
    asr = tmp_path / "exp" / "a" / "decode" / "test" / "asr"
    asr.mkdir(parents=True)
    (asr / "text").write_text("".join(f"{i} {t}\n" for i, t in zip(ids, SRC[:-1] + ["a cat"])), encoding="utf-8")
    lst = tmp_path / "list.tsv"
    de = data / "text.tc.de"
    lst.write_text(f"{dirs['a']}\t{de}\n{asr}\t{data / 'text'}\n\n{dirs['b']}\t{de}\n")
    comet_opts = ["--spbleu", "false", "--comet_model", str(models["comet"]),
                  "--cometkiwi_model", str(models["kiwi"]), "--comet_batch_size", "2"]
    score_decode_dir.main(["--task", "auto", "--list", str(lst), *comet_opts])
    listed = {m: json.loads((d / "scores.json").read_text()) for m, d in dirs.items()}
    assert json.loads((asr / "scores.json").read_text())["metrics"]["wer_exact"] == pytest.approx(100 * 2 / 18)
    assert "comet" not in json.loads((asr / "scores.json").read_text())["metrics"]
    for m, d in dirs.items():
        alone = tmp_path / "alone" / m / "st_de"
        alone.mkdir(parents=True)
        (alone / "text").write_text((d / "text").read_text(encoding="utf-8"), encoding="utf-8")
        score_decode_dir.main(["--task", "auto", "--ref", str(data / "text.tc.de"), "--hyp_dir", str(alone),
                               *comet_opts])
        own = json.loads((alone / "scores.json").read_text())
        for metric in ("bleu", "chrf", "comet", "cometkiwi"):
            assert listed[m]["metrics"][metric] == pytest.approx(own["metrics"][metric], abs=1e-3), (m, metric)
        assert json.loads((d / "score_comet" / "result.json").read_text())["n_segments"] == len(ids)
    assert listed["a"]["metrics"]["comet"] != pytest.approx(listed["b"]["metrics"]["comet"], abs=1e-6)


def test_score_list_is_checked(tmp_path, capsys):
    lst = tmp_path / "list.tsv"
    lst.write_text("only_one_field\n")
    with pytest.raises(SystemExit):
        score_decode_dir.main(["--task", "auto", "--list", str(lst)])
    assert f"{lst}:1: expected 2 tab-separated fields (hyp_dir, ref)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        score_decode_dir.main(["--task", "auto", "--list", str(lst), "--src", "x"])
    assert "--list replaces --hyp_dir" in capsys.readouterr().err
