"""spire-infer on real tiny models (no mocks): a stage-14 export made with MFCC units, and the
released SPIRE layout (HF LLM dir + bare joblib k-means + tiny HuBERT dir). Tiny random models
produce no meaningful text, so the tests check structure: one output per decodable input, ids,
the skipped list, the exit status, and that units equal the recipe's own (stage 5)."""

import io
import json
import os
from contextlib import redirect_stdout

import numpy as np
import pytest
import soundfile as sf

import lm_fixtures as F
from _units_helpers import make_tiny_ssl
from espnet_spire.audio.resample import resample
from espnet_spire.bin import infer as cli

K = 30
FAST = ["--device", "cpu", "--max_new_tokens", "3", "--batch_size", "2"]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def audio(an4, tmp_path_factory):
    """a.flac 44.1 kHz stereo, b.mp3 8 kHz mono, c.wav 16 kHz mono (real AN4 speech), a corrupt wav."""
    d = tmp_path_factory.mktemp("audio")
    x, rate = sf.read(str(an4["fbbh-cen8-b"][0]), dtype="float32")
    y, _ = sf.read(str(an4["mwhw-cen8-b"][0]), dtype="float32")
    assert rate == 16000
    x44 = resample(x, 16000, 44100)
    sf.write(d / "a.flac", np.stack([x44, 0.5 * x44], axis=1), 44100)
    sf.write(d / "b.mp3", resample(y, 16000, 8000), 8000, format="MP3")
    sf.write(d / "c.wav", x, 16000, subtype="PCM_16")
    (d / "bad.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(64)))
    files = {n: str(d / n) for n in ("a.flac", "b.mp3", "c.wav", "bad.wav")}
    assert [sf.info(files[n]).samplerate for n in ("a.flac", "b.mp3", "c.wav")] == [44100, 8000, 16000]
    assert sf.info(files["a.flac"]).channels == 2
    return files


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """Stage 14's export of a tiny instruct model whose units are MFCC k-means units."""
    from espnet_spire.bin import export_model

    root = str(tmp_path_factory.mktemp("infer_model"))
    built = F.build_tokenizers(root, num_units=K)
    trained = F.save_tiny_model(os.path.join(root, "trained"), built["tok_instruct"], seed=3)
    from espnet_spire.units.mfcc import MfccExtractor

    km = F.tiny_kmeans_dir(os.path.join(root, "kmeans"), K, dim=39, feature=MfccExtractor().describe(), seed=0)
    out = os.path.join(root, "export")
    assert export_model.main(["--model_dir", trained, "--tokenizer_dir", built["tok_instruct"],
                              "--output_dir", out, "--kmeans", km]) == 0
    return {"root": root, "hf": out, "trained": trained, "kmeans": km}


@pytest.fixture
def run(capsys, caplog):
    """``run(argv) -> (exit status, stdout lines, stderr + log text)``."""
    def _run(argv):
        caplog.clear()
        rc = cli.main(argv)
        cap = capsys.readouterr()
        return rc, cap.out.splitlines(), cap.err + caplog.text
    return _run


def test_asr_prints_one_line_per_file_and_skips_the_corrupt_one(model, audio, run):
    files = [audio[n] for n in ("a.flac", "b.mp3", "c.wav", "bad.wav")]
    rc, lines, err = run(["--model", model["hf"], "--task", "asr", *files, *FAST])
    assert rc == 0 and len(lines) == 3
    rc, lines, err = run(["--model", model["hf"], "--task", "asr", "--output_format", "kaldi", *files, *FAST])
    assert rc == 0 and [line.split(" ")[0] for line in lines] == ["a", "b", "c"]
    assert "skipped 1 of 4 inputs:" in err
    assert f"bad ({audio['bad.wav']}): unreadable: cannot decode '{audio['bad.wav']}'" in err


def test_st_and_multiturn_st_give_an_output_for_each_input(model, audio, run, tmp_path):
    files = [audio[n] for n in ("a.flac", "b.mp3", "c.wav")]
    out = tmp_path / "st.jsonl"
    rc, _, err = run(["--model", model["hf"], "--task", "st", "--tgt_lang", "de", "--output_format", "jsonl",
                       "--output", str(out), *files, *FAST])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rc == 0 and "skipped" not in err
    assert [(r["id"], r["task"], r["windows"], r["transcript"]) for r in rows] == [
        ("a", "st_de", 1, None), ("b", "st_de", 1, None), ("c", "st_de", 1, None)]
    rc, lines, _ = run(["--model", model["hf"], "--task", "multiturn_st", "--tgt_lang", "de",
                         "--output_format", "jsonl", audio["c.wav"], *FAST])
    row = json.loads(lines[0])
    assert rc == 0 and len(lines) == 1 and row["task"] == "multiturn_st_de" and isinstance(row["transcript"], str)
    rc, _, err = run(["--model", model["hf"], "--task", "st", audio["c.wav"], *FAST])
    assert rc == 1 and "task st needs --tgt_lang (e.g. de)" in err


def test_wav_scp_and_directory_inputs_and_text_mt(model, audio, run, tmp_path):
    scp = tmp_path / "wav.scp"
    scp.write_text(f"utt-2 {audio['b.mp3']}\nutt-1 {audio['c.wav']}\n")
    rc, lines, _ = run(["--model", model["hf"], "--output_format", "kaldi", str(scp), *FAST])
    assert rc == 0 and [line.split(" ")[0] for line in lines] == ["utt-2", "utt-1"]
    d = tmp_path / "dir"
    (d / "sub").mkdir(parents=True)
    os.symlink(audio["c.wav"], d / "sub" / "z.wav")
    os.symlink(audio["a.flac"], d / "y.flac")
    rc, lines, _ = run(["--model", model["hf"], "--output_format", "kaldi", str(d), *FAST])
    assert rc == 0 and [line.split(" ")[0] for line in lines] == ["z", "y"]  # sorted by path: sub/z < y
    text = tmp_path / "news.txt"
    text.write_text("\n".join(F.ntrex_lines("en", 2)) + "\n\n")
    rc, lines, _ = run(["--model", model["hf"], "--task", "mt", "--src_lang", "en", "--tgt_lang", "de",
                         "--output_format", "kaldi", str(text), *FAST])
    assert rc == 0 and [line.split(" ")[0] for line in lines] == ["news-000001", "news-000002"]


def test_input_errors_name_the_input(model, audio, run, tmp_path):
    (tmp_path / "x").mkdir()
    os.symlink(audio["c.wav"], tmp_path / "x" / "c.wav")
    rc, lines, err = run(["--model", model["hf"], audio["c.wav"], str(tmp_path / "x" / "c.wav"), *FAST])
    assert rc == 1 and not lines
    assert f"two inputs have the id 'c' ({audio['c.wav']} and {tmp_path / 'x' / 'c.wav'})" in err
    rc, _, err = run(["--model", model["hf"], str(tmp_path / "missing.wav"), *FAST])
    assert rc == 1 and f"input not found: {tmp_path / 'missing.wav'}" in err
    rc, lines, err = run(["--model", model["hf"], audio["bad.wav"], *FAST])
    assert rc == 1 and not lines and "skipped 1 of 1 inputs:" in err and "no input could be decoded" in err


def test_units_are_stage5_units(model, audio, tmp_path):
    """The same 16 kHz file gives byte-identical units through spire-infer's path and stage 5."""
    from espnet_spire.bin import label_units
    from espnet_spire.infer.inputs import load_waveform
    from espnet_spire.infer.units import UnitMaker

    data = tmp_path / "dump"
    data.mkdir()
    (data / "wav.scp").write_text(f"c {audio['c.wav']}\n")
    out = tmp_path / "units"
    assert label_units.main(["label", "--data_dir", str(data), "--kmeans", model["kmeans"], "--feature_type", "mfcc",
                             "--output_dir", str(out)]) == 0
    maker = UnitMaker(os.path.join(model["hf"], "kmeans"))
    wav, reason = load_waveform(audio["c.wav"])
    assert reason is None
    assert (out / "units").read_text() == f"c {maker([wav])[0]}\n"


def test_resampler_choice_in_infer(audio):
    from espnet_spire.infer.inputs import load_waveform

    soxr, _ = load_waveform(audio["a.flac"], "soxr_hq")
    sinc, _ = load_waveform(audio["a.flac"], "sinc")
    assert len(soxr) == len(sinc) and np.mean(soxr != sinc) > 0.25  # 16-bit samples: ~50 % differ
    np.testing.assert_array_equal(load_waveform(audio["c.wav"], "soxr_hq")[0], load_waveform(audio["c.wav"], "sinc")[0])
    assert np.array_equal(load_waveform(audio["c.wav"])[0] * 32768, sf.read(audio["c.wav"], dtype="int16")[0])


def test_long_audio_is_cut_into_equal_windows(model, audio, run, tmp_path):
    from espnet_spire.infer.inputs import split_windows

    assert split_windows(30 * 16000, 30.0) == [(0, 480000)]
    assert split_windows(65 * 16000, 30.0) == [(0, 346667), (346667, 693333), (693333, 1040000)]
    assert split_windows(65 * 16000, 0) == [(0, 1040000)]
    x, _ = sf.read(audio["c.wav"], dtype="int16")
    long = tmp_path / "long.wav"
    sf.write(long, np.tile(x, 3), 16000)
    seconds = 3 * len(x) / 16000
    rc, lines, _ = run(["--model", model["hf"], "--output_format", "jsonl", "--max_chunk_s", str(seconds / 2.5),
                         str(long), *FAST])
    row = json.loads(lines[0])
    assert rc == 0 and row["windows"] == 3 and row["seconds"] == round(seconds, 3)


def test_released_spire_layout(model, audio, run, tmp_path):
    """HF LLM dir (no k-means inside) + a bare SpireKMeans-style joblib + a HuBERT dir at --layer."""
    import joblib

    from espnet_spire.units.kmeans import sklearn_model_from_centers

    hubert = make_tiny_ssl(str(tmp_path / "hubert"), layers=3)
    km = tmp_path / "SpireKMeans" / "kmeans_model"
    km.parent.mkdir()
    joblib.dump(sklearn_model_from_centers(np.random.default_rng(1).normal(size=(K, 32)).astype(np.float32)), km)
    files = [audio[n] for n in ("a.flac", "b.mp3", "c.wav", "bad.wav")]
    # a joblib is a pickle: refused unless trusted
    rc, _, err = run(["--llm", model["trained"], "--kmeans", str(km), "--ssl_model", hubert, "--layer", "2",
                      audio["c.wav"], *FAST])
    assert rc == 1 and "--trust_pickle true" in err and str(km) in err
    trust = ["--trust_pickle", "true"]
    rc, lines, err = run(["--llm", model["trained"], "--kmeans", str(km), "--ssl_model", hubert, "--layer", "2",
                           "--output_format", "kaldi", *trust, *files, *FAST])
    assert rc == 0 and [line.split(" ")[0] for line in lines] == ["a", "b", "c"] and "skipped 1 of 4" in err
    rc, _, err = run(["--llm", model["trained"], "--kmeans", str(km), *trust, audio["c.wav"], *FAST])
    assert rc == 1 and "give --ssl_model DIR" in err
    km_big = tmp_path / "kmeans_model_k530"
    joblib.dump(sklearn_model_from_centers(np.random.default_rng(1).normal(size=(K + 500, 32)).astype(np.float32)),
                km_big)
    rc, _, err = run(["--llm", model["trained"], "--kmeans", str(km_big), "--ssl_model", hubert, "--layer", "2",
                      *trust, audio["c.wav"], *FAST])
    assert rc == 1 and f"has no token for unit {K + 499} (U+{0xF0000 + K + 499:X})" in err
    # our k-means dir records the SSL model's hashes and layer: another HuBERT is refused
    from espnet_spire.units.hf_ssl import HFSSLExtractor
    from espnet_spire.units.kmeans import KMeansConfig, save_kmeans

    ours = str(tmp_path / "kmeans_l2")
    save_kmeans(sklearn_model_from_centers(np.random.default_rng(2).normal(size=(K, 32)).astype(np.float32)), ours,
                KMeansConfig(n_clusters=K), {}, HFSSLExtractor(hubert, layer=2).describe(), [])
    rc, lines, err = run(["--llm", model["trained"], "--kmeans", ours, "--ssl_model", hubert, audio["c.wav"], *FAST])
    assert rc == 0 and len(lines) == 1  # layer 2 read from kmeans.json, not --layer's default 22
    other = make_tiny_ssl(str(tmp_path / "hubert_other"), layers=3, seed=1)
    rc, _, err = run(["--llm", model["trained"], "--kmeans", ours, "--ssl_model", other, audio["c.wav"], *FAST])
    assert rc == 1 and f"{ours} was learnt on other features (weights_sha256: k-means learnt with" in err


def test_model_card_snippet_runs(model, audio, tmp_path):
    """The card's usage snippet, executed as written, on the exported model and a wav file."""
    from espnet_spire.train.pack import usage_snippet

    card = open(os.path.join(model["hf"], "README.md"), encoding="utf-8").read()
    assert usage_snippet() in card and "spire-infer --model . --task asr speech.wav" in card
    snippet = usage_snippet(model["hf"], audio["c.wav"])
    buf = io.StringIO()
    with redirect_stdout(buf):
        exec(compile(snippet, "model_card_snippet", "exec"), {})
    assert len(buf.getvalue().splitlines()) == 2


def test_python_api(model, audio):
    from espnet_spire.infer import InferConfig, SpireModel

    m = SpireModel.from_pretrained(model["hf"], InferConfig(device="cpu", max_new_tokens=3))
    assert isinstance(m.transcribe(audio["c.wav"]), str)
    assert len(m.transcribe([audio["a.flac"], audio["bad.wav"], audio["c.wav"]])) == 2
    result = m.run(audio["b.mp3"], "st", "fr")
    assert [(o.id, o.task) for o in result.outputs] == [("b", "st_fr")] and not result.skipped
    assert len(m.translate_text(["a b c", "d e"], "en", "de")) == 2
    with pytest.raises(ValueError, match="unreadable: cannot decode"):
        m.transcribe(audio["bad.wav"])
