"""The paper's recipe on fixture corpora: ./run.sh --config conf/spire.conf --config <overlay>.

Every corpus of db.sh is written in its distributed layout (tests/fixtures_*.py), the paper
recipe's db.sh points at them, and the models are tiny (random HuBERT of 22 layers, a Llama-shaped
base with a sentencepiece tokenizer, a tiny CometKiwi for the pseudo-ST filter). The overlay changes sizes,
model dirs, nj, the training configs and K only: the data roles, mixtures and filters are
conf/spire.conf's. First the plan, then stages 1-14.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from recipe_paths import PAPER, copy_recipe
from recipe_paths import RECIPE_ENV as ENV

# About 6 minutes on 2 cores; part of `make test` (CI); `make test-fullscale` runs it alone.
pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.fullscale]

EUROPARL_LANGS = ("de", "es", "fr", "it", "nl", "pt")
WMT23_PAIRS = ("en-de", "de-en", "en-ru", "ru-en", "en-zh", "zh-en")

# Sizes of local/data.sh scaled to the fixtures (the paper's: 62000/8, 65000/250, 107000, 300000).
DATA_SIZES = ("--kmeans_covost_files 3 --kmeans_covost_max_per_speaker 1 --kmeans_voxpopuli_files 2"
              " --kmeans_voxpopuli_max_per_speaker 1 --kmeans_mls_files 4 --pseudo_st_source_size 2")

# A tiny training config (what the paper's DeepSpeed configs set, at a few steps on CPU).
TRAIN_CONFIG = """torch_dtype: float32
attn_implementation: sdpa
loss_impl: selective
max_len: 1024
batch_type: sorted
batch_size: 2
accum_grad: 1
num_workers: 0
num_iters_per_epoch: 2
max_epoch: 1
optim: adamw
optim_conf:
    lr: 1.0e-03
    weight_decay: 0.0
scheduler: warmupcosinelr
scheduler_conf:
    warmup_steps: 1
    total_steps: null
grad_clip: 1.0
best_model_criterion:
-   - valid
    - loss
    - min
keep_nbest_models: 1
log_interval: 1
hf_export: true
hf_export_model: latest
hf_export_dtype: auto
"""


def write_corpora(root: Path) -> dict:
    """Every corpus of db.sh in its distributed layout; returns the db.sh variables."""
    sys.path.insert(0, str(Path(__file__).parent))
    import fixtures_asr
    import fixtures_st
    import fixtures_text

    for name, writer in fixtures_asr.WRITERS.items():
        writer(root / name)
    fixtures_st.write_covost2(root / "covost2")
    fixtures_st.write_fleurs(root / "fleurs")
    fixtures_st.write_europarl_st(root / "europarl_st")
    # the fixture has de and fr; the paper's four other targets as copies of de
    en = root / "europarl_st" / "v1.1" / "en"
    for lang in EUROPARL_LANGS:
        if not (en / lang).exists():
            shutil.copytree(en / "de", en / lang)
            for split in ("train", "dev", "test"):
                (en / lang / split / "segments.de").rename(en / lang / split / f"segments.{lang}")
    fixtures_text.write_flores200(root / "flores200")
    fixtures_text.write_wmt23(root / "wmt23", pairs=WMT23_PAIRS)
    fixtures_text.write_towerblocks(root / "towerblocks")
    fixtures_text.write_tower_cpt_text(root / "tower_cpt_text")
    return {"LIBRISPEECH": root / "librispeech", "MLS": root / "mls" / "mls_english", "GIGASPEECH": root / "gigaspeech",
            "SPGISPEECH": root / "spgispeech", "VOXPOPULI": root / "voxpopuli", "COMMONVOICE": root / "commonvoice",
            "COVOST2": root / "covost2" / "covost", "COVOST2_CV": root / "covost2" / "cv",
            "FLEURS": root / "fleurs" / "fleurs" / "data", "EUROPARL_ST": root / "europarl_st" / "v1.1",
            "FLORES200": root / "flores200", "WMT23": root / "wmt23", "TOWERBLOCKS": root / "towerblocks",
            "TOWER_CPT_TEXT": root / "tower_cpt_text"}


def write_models(root: Path) -> dict:
    """Tiny stand-ins of HuBERT-large (22 layers, so the paper's layer 22 exists), TowerBase and COMET."""
    from _comet_helpers import build_tiny_comet
    from _units_helpers import make_tiny_ssl
    from lm_fixtures import make_base_dir

    models = {"ssl_model": make_tiny_ssl(str(root / "hubert"), layers=22),
              "base_model": make_base_dir(str(root / "base"))}
    models["pseudo_st_translator"] = models["base_model"]
    models["flores200_spm"] = str(root / "base" / "tokenizer.model")   # a sentencepiece model as spBLEU's
    # CometKiwi filters stage 9; COMET-22 scores every translation dir in stage 13 (one COMET
    # run over all of them).
    models["pseudo_st_qe_model"] = str(build_tiny_comet(root / "kiwi", "kiwi"))
    models["comet_model"] = str(build_tiny_comet(root / "comet", "comet"))
    return models


@pytest.fixture(scope="module")
def paper(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("full_scale")
    work = copy_recipe(PAPER, tmp / "spire1")
    db = write_corpora(tmp / "corpora")
    (work / "db.sh").write_text("# shellcheck shell=bash\n" + "".join(f"{k}={v}\n" for k, v in db.items()))
    models = write_models(tmp / "models")
    for stage in ("cpt", "it"):
        (work / "conf" / f"train_{stage}_fixture.yaml").write_text(TRAIN_CONFIG)
    overlay = {"nj": 1, "inference_nj": 1, "nclusters": 16, "kmeans_batch_size": 1000,
               "local_data_opts": f'"{DATA_SIZES}"', "cpt_max_len": 512, "it_max_len": 1024,
               "cpt_config": "conf/train_cpt_fixture.yaml", "it_config": "conf/train_it_fixture.yaml",
               "lm_launcher": "espnet", "decode_dtype": "float32",
               # a random tiny LLM never says newline: cap its outputs (the paper's 256 costs minutes)
               "decode_max_new_tokens": 12, "pseudo_st_args": '"--max_new_tokens 12"', **models}
    (work / "conf" / "fixture.conf").write_text("".join(f"{k}={v}\n" for k, v in overlay.items()))
    return work


def run(work: Path, *args: str) -> subprocess.CompletedProcess:
    out = subprocess.run(["./run.sh", "--config", "conf/spire.conf", "--config", "conf/fixture.conf", *args],
                         cwd=work, env=ENV, capture_output=True, text=True)
    (work / f"run{'_plan' if '--plan' in args else ''}.log").write_text(out.stdout + out.stderr)
    return out


def test_plan_of_the_paper_setting_on_fixture_corpora(paper):
    out = run(paper, "--plan", "true")
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    assert "Plan: every input is present." in out.stdout
    assert "| 1     | data preparation" in out.stdout
    assert not (paper / "data").exists() and not (paper / "exp").exists()


@pytest.fixture(scope="module")
def full_run(paper):
    out = run(paper, "--stop_stage", "14")
    assert out.returncode == 0, (out.stdout + out.stderr)[-6000:]
    return paper, out.stderr


def test_stages_1_to_14_of_the_paper_setting(full_run):
    paper, log = full_run
    for n in range(1, 15):
        assert f"(spire.sh:stage {n})" in log, f"stage {n} left no log line"
    # the rules of the paper were applied (corpus.json of the subsets and of Common Voice's IT copy)
    kmeans = json.loads((paper / "data/kmeans_subset/corpus.json").read_text())
    caps = {r["params"]["group"]: r for r in kmeans["rules"] if r["name"] == "cap_per_speaker"}
    assert caps["covost"]["removed"] > 0 and caps["voxpopuli"]["removed"] > 0, kmeans["rules"]
    assert [s["dir"] for s in kmeans["sources"]] == ["covost2_en_de_train", "voxpopuli_en_train", "mls_en_train"]
    cv_it = json.loads((paper / "data/commonvoice_en_train_it/corpus.json").read_text())
    rules = {r["name"]: r for r in cv_it["rules"]}
    assert rules and all(r["removed"] > 0 for r in rules.values()), cv_it["rules"]
    # the paper's CometKiwi filter ran on the three pseudo-ST sources
    report = json.loads((paper / "dump/pseudo_st/combined/report.json").read_text())
    assert report["qe_filter"] is True and report["threshold"] == 0.85 and report["n_transcripts"] == 3 * 2
    results = (paper / "RESULTS.md").read_text()
    rows = {tuple(line.split("|")[2:4]) for line in results.splitlines() if line.startswith("|decode_greedy|")}
    for test_set, task in (("librispeech_test_clean", "asr"), ("librispeech_test_other", "asr"),
                           ("voxpopuli_en_test", "asr"), ("fleurs_en_test_st", "st_de"),
                           ("covost2_en_test_st", "st_zh"), ("flores200_devtest", "mt_en_de")):
        assert (test_set, task) in rows, (test_set, task)
    # COMET-22 on every translation dir, from one COMET run
    scores = [json.loads(p.read_text()) for p in paper.glob("exp/*/*/decode_greedy/*/*/scores.json")]
    translation = [s for s in scores if s["kind"] != "asr"]
    assert translation and all("comet" in s["metrics"] for s in translation)
    assert "Stage 13: scoring" in log and log.count("COMET: ") == 1


def test_local_data_sh_does_not_redo_prepared_dirs(full_run):
    paper, _ = full_run
    out = subprocess.run(["local/data.sh", *DATA_SIZES.split()], cwd=paper, env=ENV, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Stage 1: preparing" not in out.stderr and "joined ->" not in out.stderr
    assert "Stage 1: librispeech: already prepared" in out.stderr
    assert "Stage 3: data/kmeans_subset exists, not redone" in out.stderr
    assert "kmeans_subset: " in out.stderr   # stage 5 lists what is there
