"""Plan mode: estimates against hand-computed numbers, and spire.sh --plan true on a recipe copy
(prints every section and writes nothing; missing or invalid inputs give one list and exit 1)."""

import json
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from espnet_spire.plan import estimates as est
from espnet_spire.plan.inputs import model_shape, train_setup
from recipe_paths import DEMO, PAPER, RECIPE_ENV, copy_recipe

GIB = 1024 ** 3


# ---------------------------------------------------------------- estimates
def test_units_count_hubert_and_mfcc():
    assert est.units_count(3600, "hf_ssl", dedup=True) == pytest.approx(3600 * 50 * 0.6)
    assert est.units_count(3600, "mfcc", dedup=False) == pytest.approx(360000)
    assert est.units_count(10, "hf_ssl", dedup=True, dedup_factor=0.5) == pytest.approx(250)


def test_cpt_tokens_ratio_and_budget():
    # speech = 500 units + 100 transcript tokens + 10 utts x 6 = 660; text = 660 / 5 = 132
    t = est.cpt_tokens(500, 100, 10, 5.0)
    assert (t.speech, t.text, t.used_share) == pytest.approx((660, 132, 1.0))
    t = est.cpt_tokens(500, 100, 10, 5.0, budget=396)
    assert (t.speech, t.text, t.used_share, t.total) == pytest.approx((330, 66, 0.5, 396))


def test_gpu_memory_zero_stages():
    p = 7e9
    m = est.gpu_memory(p, 8, 2, True, layers=32, hidden=4096, vocab=32000, micro_batch=4,
                       seq_len=4096, checkpointing=True)
    assert m.weights == pytest.approx(14e9)
    assert m.grads == pytest.approx(2 * p / 8)
    assert m.optimizer == pytest.approx(12 * p / 8)
    bsh = 4 * 4096 * 4096
    assert m.activations == pytest.approx(32 * 2 * bsh + 34 * bsh)
    assert m.logits == pytest.approx(4 * 4096 * 32000 * 4)
    m3 = est.gpu_memory(p, 8, 3, True, 32, 4096, 32000, 4, 4096, False)
    assert m3.weights == pytest.approx(14e9 / 8) and m3.activations == pytest.approx(32 * 34 * bsh)
    ddp = est.gpu_memory(p, 8, 0, False, 32, 4096, 32000, 1, 1, False)
    assert (ddp.weights, ddp.grads, ddp.optimizer) == pytest.approx((4 * p, 4 * p, 8 * p))


def test_throughput_and_gpu_hours():
    assert est.tokens_per_second(7e9) == pytest.approx(8900)
    assert est.tokens_per_second(14e9) == pytest.approx(4450)
    assert est.gpu_hours(8900 * 3600 * 10, 8900) == pytest.approx(10)
    assert est.audio_dump_bytes(3600) == 3600 * 32000
    assert est.checkpoint_bytes(1e9, 2) == pytest.approx(14e9)


# ---------------------------------------------------------------- inputs
LLAMA = {"model_type": "llama", "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 2,
         "num_attention_heads": 2, "num_key_value_heads": 2, "vocab_size": 40, "tie_word_embeddings": False,
         "torch_dtype": "float32"}


def write_model(d: Path, safetensors: bool = True) -> Path:
    """A model dir with config.json and a safetensors file whose header holds the shapes (no real weights)."""
    d.mkdir(parents=True, exist_ok=True)
    (d / "config.json").write_text(json.dumps(LLAMA))
    if safetensors:
        shapes = {"embed": [40, 8], "head": [40, 8], "layer": [10, 8]}
        header, offset = {}, 0
        for name, shape in shapes.items():
            n = int(np.prod(shape)) * 2
            header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + n]}
            offset += n
        raw = json.dumps(header).encode()
        (d / "model.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * offset)
    return d


def test_model_shape_from_safetensors_header_and_config(tmp_path):
    s = model_shape(str(write_model(tmp_path / "st")))
    assert (s.params, s.weight_bytes, s.source) == (40 * 8 * 2 + 80, 2, "safetensors headers")
    c = model_shape(str(write_model(tmp_path / "cfg", safetensors=False)))
    # 2 x 40 x 8 embeddings + 2 layers x (2*8*8 + 2*8*8 + 3*8*16 + 16) + 8
    assert (c.params, c.weight_bytes, c.source) == (640 + 2 * (128 + 128 + 384 + 16) + 8, 4, "config.json")
    with pytest.raises(FileNotFoundError, match="has no config.json"):
        model_shape(str(tmp_path / "none"))


def test_train_setup_reads_deepspeed_zero_stage():
    import os
    cwd = os.getcwd()
    try:
        os.chdir(PAPER)
        s = train_setup("conf/tuning/train_cpt_spire_deepspeed_zero2.yaml")
    finally:
        os.chdir(cwd)
    assert (s.zero_stage, s.bf16, s.batch_size, s.max_len, s.checkpointing) == (2, True, 32, 4096, True)


# ---------------------------------------------------------------- spire.sh --plan true
def write_speech_dir(d: Path, n: int = 4, seconds: float = 2.5) -> None:
    d.mkdir(parents=True)
    ids = [f"spk1-utt{i}" for i in range(n)]
    (d / "wav.scp").write_text("".join(f"{u} /nonexistent/{u}.wav\n" for u in ids))
    (d / "text").write_text("".join(f"{u} hello world number {i}\n" for i, u in enumerate(ids)))
    (d / "utt2spk").write_text("".join(f"{u} spk1\n" for u in ids))
    (d / "spk2utt").write_text("spk1 " + " ".join(ids) + "\n")
    (d / "utt2dur").write_text("".join(f"{u} {seconds}\n" for u in ids))


def demo_with_inputs(tmp_path: Path) -> Path:
    r = copy_recipe(DEMO, tmp_path / "demo")
    for name in ("demo_train", "demo_dev", "demo_test"):
        write_speech_dir(r / "data" / name)
    for name in ("demo_mt_train", "demo_mono"):
        (r / "data" / name).mkdir()
        (r / "data" / name / "text.tc.en").write_text("t1 some text here\n")
    write_model(r / "exp/toy_base/hf_model")
    np.save(r / "km50.npy", np.zeros((50, 39), dtype=np.float32))
    return r


def plan(recipe: Path, *args):
    files = sorted(str(p) for p in recipe.rglob("*"))
    out = subprocess.run(["./run.sh", "--plan", "true", *args], cwd=recipe, capture_output=True,
                         text=True, env=RECIPE_ENV)
    assert sorted(str(p) for p in recipe.rglob("*")) == files, "the plan wrote files"
    return out


def test_plan_of_the_demo_prints_every_section(tmp_path):
    r = demo_with_inputs(tmp_path)
    out = plan(r, "--stage", "2", "--stop_stage", "14", "--ngpu", "8")
    assert out.returncode == 0, out.stderr
    for section in ("Data sets:", "demo_train: 4 utterances", "Per stage:", "| 5     | unit labelling",
                    "GPU memory per device, CPT", "GPU memory per device, IT", "Notes and assumptions:",
                    "GPU-hours", "tokens/s per GPU"):
        assert section in out.stdout, section
    assert not (r / "exp/spire.sh.last_command").exists()


def test_plan_lists_every_missing_or_invalid_input(tmp_path):
    r = demo_with_inputs(tmp_path)
    import shutil
    shutil.rmtree(r / "data/demo_dev")
    shutil.rmtree(r / "exp/toy_base/hf_model")
    (r / "data/demo_test/utt2spk").write_text("spk1-utt0 spk1\n")
    out = plan(r, "--stage", "2", "--stop_stage", "14", "--kmeans_model", "km50.npy")
    assert out.returncode != 0
    assert "nothing was started" in out.stderr
    assert "data dir data/demo_dev does not exist (stage 1 is not selected)" in out.stderr
    assert "base model: model dir exp/toy_base/hf_model has no config.json" in out.stderr
    assert "K mismatch: the k-means model km50.npy has K=50 but --nclusters is 200" in out.stderr
    assert "data dir data/demo_test is invalid" in out.stderr
    assert "Per stage:" not in out.stdout


def paper_with_corpora(tmp_path: Path) -> Path:
    r = copy_recipe(PAPER, tmp_path / "paper")
    root = tmp_path / "corpora"
    files = [("LIBRISPEECH", "LibriSpeech/test-clean/"), ("MLS", "train/transcripts.txt"),
             ("GIGASPEECH", "GigaSpeech.json"), ("SPGISPEECH", "train.csv"),
             ("VOXPOPULI", "transcribed_data/en/asr_train.tsv"),
             ("COMMONVOICE", "cv-corpus-18.0-2024-06-14/en/train.tsv"),
             ("COMMONVOICE", "cv-corpus-18.0-2024-06-14/en/clips/"), ("COVOST2", "covost_v2.en_de.tsv"),
             ("FLEURS", "en_us/test.tsv"), ("EUROPARL_ST", "en/audios/"), ("FLORES200", "flores200_dataset/devtest/"),
             ("WMT23", "wmt23-news-systems-v.0.1/"), ("TOWERBLOCKS", "train.jsonl"), ("TOWER_CPT_TEXT", "mono/")]
    lines = []
    for var, rel in files:
        p = root / var.lower() / rel
        if rel.endswith("/"):
            p.mkdir(parents=True)
        else:
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text("")
        if f"{var}={root / var.lower()}" not in lines:
            lines.append(f"{var}={root / var.lower()}")
    (r / "db.sh").write_text("# shellcheck shell=bash\n" + "\n".join(lines) + "\n")
    return r


def test_plan_of_the_paper_recipe_checks_the_corpora(tmp_path):
    r = paper_with_corpora(tmp_path)
    out = plan(r, "--stop_stage", "1")
    assert out.returncode == 0, out.stderr
    assert "| 1     | data preparation" in out.stdout
    (tmp_path / "corpora/gigaspeech/GigaSpeech.json").unlink()
    import shutil
    shutil.rmtree(tmp_path / "corpora/fleurs")
    out = plan(r, "--stop_stage", "1")
    assert out.returncode != 0
    assert f"corpus gigaspeech: GIGASPEECH={tmp_path}/corpora/gigaspeech (db.sh) has no GigaSpeech.json" in out.stderr
    assert f"corpus fleurs: FLEURS={tmp_path}/corpora/fleurs (db.sh) does not exist" in out.stderr
    assert "corpus mls" not in out.stderr


def test_plan_of_the_paper_recipe_names_a_corpus_missing_from_db_sh(tmp_path):
    r = paper_with_corpora(tmp_path)
    db = (r / "db.sh").read_text()
    (r / "db.sh").write_text("".join(line + "\n" for line in db.splitlines() if not line.startswith("WMT23=")))
    out = plan(r)
    assert out.returncode != 0
    assert "corpus wmt23: WMT23 is not set in db.sh" in out.stderr
    assert "nothing was started" in out.stderr
    assert "corpus mls" not in out.stderr
    assert not (r / "data").exists() and not (r / "exp").exists()


# ---------------------------------------------------------------- data roles
def write_role_dir(d: Path, n: int, seconds: float, st_langs=()) -> None:
    """A speech dir of ``n`` utterances of ``seconds`` each (ids unique to the dir)."""
    d.mkdir(parents=True)
    ids = [f"{d.name}-utt{i}" for i in range(n)]
    (d / "wav.scp").write_text("".join(f"{u} /nonexistent/{u}.wav\n" for u in ids))
    (d / "text").write_text("".join(f"{u} hello world\n" for u in ids))
    (d / "utt2spk").write_text("".join(f"{u} {u}\n" for u in ids))
    (d / "spk2utt").write_text("".join(f"{u} {u}\n" for u in ids))
    (d / "utt2dur").write_text("".join(f"{u} {seconds}\n" for u in ids))
    for lang in st_langs:
        (d / f"text.tc.{lang}").write_text("".join(f"{u} hallo welt\n" for u in ids))


# role option -> (dir, utterances, seconds each): 1 h, 2 h, 3 h, 4 h, 5 h, 0.5 h, 1 h
ROLE_DIRS = {"kmeans_sets": ("km", 10, 360.0), "cpt_speech_sets": ("cpt", 8, 900.0),
             "it_asr_sets": ("itasr", 6, 1800.0), "st_sets": ("st", 4, 3600.0),
             "pseudo_st_sets": ("ps", 5, 3600.0), "valid_set": ("dev", 2, 900.0), "test_sets": ("test", 3, 1200.0)}


def demo_with_roles(tmp_path: Path) -> tuple:
    """The demo recipe with one small dir per data role (sizes above) and the role options naming them."""
    r = demo_with_inputs(tmp_path)
    opts = []
    for role, (name, n, secs) in ROLE_DIRS.items():
        write_role_dir(r / "data" / name, n, secs, st_langs=("de",) if role == "st_sets" else ())
        opts += [f"--{role}", name]
    (r / "data/mono").mkdir()
    (r / "data/mono/text.tc.en").write_text("m1 " + "a" * 3996 + "\n")
    (r / "data/mt").mkdir()
    for lang, word in (("en", "hello"), ("de", "hallo")):
        (r / "data/mt" / f"text.tc.{lang}").write_text("".join(f"p{i} {word}\n" for i in range(3)))
    opts += ["--cpt_mono_sets", "mono", "--cpt_mt_sets", "mt", "--it_mt_sets", "mt"]
    return r, opts


def row(stdout: str, stage: int) -> list:
    line = next(x for x in stdout.splitlines() if x.startswith(f"| {stage} "))
    return [c.strip() for c in line.strip("|").split("|")]


def test_plan_reads_each_stage_from_its_data_roles(tmp_path):
    r, opts = demo_with_roles(tmp_path)
    out = plan(r, "--stage", "2", "--stop_stage", "12", *opts, "--kmeans_max_frames", "180000",
               "--pseudo_st_max_utts", "2", "--cpt_data_opts", "--max_tokens 3k --loss_on_units false")
    assert out.returncode == 0, out.stderr
    s = out.stdout
    # columns: stage, what, hours, utts, DSUs, tokens, ...
    assert row(s, 2)[2:4] == ["16.5", "38"]            # every speech dir
    assert row(s, 5)[2:5] == ["15.5", "28", f"{15.5 * 3600 * 100 * 0.65:,.0f}"]   # all but the k-means-only dir
    assert row(s, 3)[2:4] == ["0.5", "10"]             # 1 h of --kmeans_sets capped at 180,000 frames (100 Hz)
    assert row(s, 7)[2:5] == ["2.0", "8", f"{2 * 3600 * 100 * 0.65:,.0f}"]
    assert row(s, 9)[2:4] == ["2.0", "2"]              # 2 of the 5 transcripts of --pseudo_st_sets
    assert row(s, 12)[2:4] == ["1.0", "3"]
    # CPT: text = (bytes of mono + mt) / 4; the 3k budget of --cpt_data_opts cuts 5:1 -> 2,500 + 500
    text_bytes = sum(f.stat().st_size for f in [r / "data/mono/text.tc.en", *(r / "data/mt").glob("text.tc.*")])
    assert ("CPT: speech 2,500 tokens" in s and f"text 500 of {text_bytes / 4:,.0f} tokens" in s
            and "budget 3,000 (--cpt_data_opts --max_tokens)" in s), s
    assert row(s, 7)[5] == "3,000"
    # IT (demo mixture counts): 6 ASR utts, 4 gold en-de lines, 2 pseudo transcripts x 9 languages
    # (multi-turn: none left after 2,000 direct), 3 MT pairs in both directions
    assert "IT spirefull (conf/it_mixtures/spirefull.yaml): asr 6 + st_gold 4 + st_pseudo 18 + mt 6 = 34 examples" in s
    assert "2 transcripts of --pseudo_st_sets x 9 languages = 18 translations" in s
    for name, roles in (("st", "--st_sets"), ("mt", "--cpt_mt_sets --it_mt_sets"), ("mono", "--cpt_mono_sets")):
        assert any(x.startswith(f"  {name}: ") and x.endswith(f"; {roles}") for x in s.splitlines()), (name, s)


def test_plan_names_a_missing_st_set(tmp_path):
    r, opts = demo_with_roles(tmp_path)
    opts[opts.index("--st_sets") + 1] = "st covost2_en_de_train"
    out = plan(r, "--stage", "2", "--stop_stage", "12", *opts)
    assert out.returncode != 0
    assert ("data dir data/covost2_en_de_train does not exist (stage 1 is not selected): named by --st_sets"
            in out.stderr), out.stderr
    assert "nothing was started" in out.stderr and "Per stage:" not in out.stdout
