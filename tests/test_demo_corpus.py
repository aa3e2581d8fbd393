"""The demo corpus writer: real espeak-ng + sox synthesis, Kaldi layout, byte-identical reruns."""

import hashlib
import subprocess
from pathlib import Path

import pytest
import soundfile as sf

from espnet_spire.demo.corpus import make_demo_corpus
from espnet_spire.demo.synth import SynthJob, synthesize_all

SIZES = dict(n_train=8, n_dev=4, n_test=4, n_mt=10, n_mono=10, nj=2)


def _tree_digest(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    info = make_demo_corpus(root / "data", root / "downloads", seed=7, **SIZES)
    return root, info


def test_layout_and_kaldi_conventions(corpus):
    root, info = corpus
    data = root / "data"
    for name, n in (("train", 8), ("dev", 4), ("test", 4)):
        d = data / f"demo_{name}"
        files = sorted(p.name for p in d.iterdir())
        assert files == sorted(["wav.scp", "text", "utt2spk", "spk2utt"]
                               + [f"text.tc.{x}" for x in
                                  "en de fr es it pt nl ru zh ko".split()])
        for f in d.iterdir():
            lines = f.read_bytes().splitlines()
            ids = [ln.split(b" ", 1)[0] for ln in lines]
            assert ids == sorted(ids), f"{f} not sorted in C order"
            if f.name != "spk2utt":
                assert len(lines) == n and len(set(ids)) == n
        utt2spk = dict(ln.split(" ", 1) for ln in (d / "utt2spk").read_text().splitlines())
        for utt, spk in utt2spk.items():
            assert utt.startswith(spk + "-")
    assert info["utterances"] == {"train": 8, "dev": 4, "test": 4}
    mt = data / "demo_mt_train"
    assert len((mt / "text.tc.de").read_text().splitlines()) == 10 + 15  # + free sentences
    assert (data / "demo_info.json").exists()


def test_audio_is_16k_mono_16bit(corpus):
    root, _ = corpus
    for line in (root / "data/demo_test/wav.scp").read_text().splitlines():
        _, path = line.split(" ", 1)
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert info.frames > 16000 * 0.5


def test_rerun_gives_identical_bytes(tmp_path):
    a = make_demo_corpus(tmp_path / "a/data", tmp_path / "a/dl", seed=7, **SIZES)
    b = make_demo_corpus(tmp_path / "b/data", tmp_path / "b/dl", seed=7, **SIZES)
    assert a == b
    da, db = _tree_digest(tmp_path / "a"), _tree_digest(tmp_path / "b")
    # wav.scp holds the audio path, which differs by root; everything else is identical.
    assert set(da) == set(db)
    assert {k: v for k, v in da.items() if not k.endswith("wav.scp")} == \
        {k: v for k, v in db.items() if not k.endswith("wav.scp")}
    # In place, a second run rewrites the same bytes and synthesises nothing new.
    before = _tree_digest(tmp_path / "a")
    make_demo_corpus(tmp_path / "a/data", tmp_path / "a/dl", seed=7, **SIZES)
    assert _tree_digest(tmp_path / "a") == before


def test_voices_differ_and_synthesis_is_repeatable(tmp_path):
    text = "The black cat is under the table."
    jobs = [SynthJob(text, v, 160, 50, tmp_path / f"{i}.wav")
            for i, v in enumerate(["en-us", "en-gb+m3", "en-us+f3"])]
    synthesize_all(jobs, nj=2)
    blobs = [j.path.read_bytes() for j in jobs]
    assert len(set(blobs)) == 3
    again = SynthJob(text, "en-us", 160, 50, tmp_path / "again.wav")
    synthesize_all([again])
    assert again.path.read_bytes() == blobs[0]
    assert SynthJob(text, "en-us", 161, 50, tmp_path / "x.wav").digest() != jobs[0].digest()


@pytest.mark.integration
def test_stage1_through_the_recipe(tmp_path):
    """The demo's local/data.sh (its corpus stage) via run.sh --stage 1 --stop_stage 1, on a copy
    of the recipe."""
    from recipe_paths import DEMO, RECIPE_ENV, copy_recipe

    work = copy_recipe(DEMO, tmp_path / "spire1")
    cmd = ["./run.sh", "--stage", "1", "--stop_stage", "1", "--local_data_opts",
           "--stop_stage 1 --n_train 6 --n_dev 3 --n_test 3 --n_mt 5 --n_mono 5"]
    out = subprocess.run(cmd, cwd=work, capture_output=True, text=True, env=RECIPE_ENV)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "validate_data_dir: data/demo_train: OK" in out.stdout + out.stderr
    first = _tree_digest(work / "data")
    out = subprocess.run(cmd, cwd=work, capture_output=True, text=True, env=RECIPE_ENV)
    assert out.returncode == 0, out.stderr[-3000:]
    assert _tree_digest(work / "data") == first
