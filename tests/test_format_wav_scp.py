"""Stage 2 audio formatting: 16 kHz mono output, the failed list, merge, restart, determinism."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
import soundfile as sf

from espnet_spire.audio.format_job import (
    FormatError,
    FormatOptions,
    job_dir,
    job_is_done,
    merge_jobs,
    run_format_job,
)
from espnet_spire.audio.resample import RESAMPLERS, downmix, resample, resampled_length, to_pcm16
from espnet_spire.bin import format_wav_scp as cli
from espnet_spire.data.validate import describe, validate_data_dir

try:
    from tests import spire_audio_helpers as H
except ImportError:  # pragma: no cover
    import spire_audio_helpers as H

REPO = Path(__file__).resolve().parents[1]
BAD = {
    "bad-corrupt": "unreadable: cannot decode",
    "bad-empty": "unreadable: cannot decode",
    "bad-nan": "non-finite samples (NaN/Inf)",
    "bad-pipe": "unreadable: pipe command exited with status 1",
    "bad-short": "too short: 300 samples at 16000 Hz after resampling (minimum 400)",
    "bad-zero": "empty audio (0 samples)",
}


@pytest.fixture(scope="session")
def mixed_dir(tmp_path_factory, an4, sox) -> Path:
    """7 AN4 sph files, 4 good synthetic entries and 6 broken ones (see BAD)."""
    root = tmp_path_factory.mktemp("mixed")
    a = root / "audio"
    a.mkdir()
    wav = {u: str(p) for u, (p, _) in an4.items()}
    # 0.731 s at 44.1 kHz = 32237 samples: the resampled length is not a round number
    wav["syn-stereo44k"] = str(H.write_wav(a / "s44.wav", H.sine(44100, 0.731, 2, 1000.0), 44100))
    x = (H.sine(16000, 0.5) * 20000).astype(np.int16)
    wav["syn-cancel"] = str(H.write_wav(a / "cancel.wav", np.stack([x, -x], axis=1), 16000))
    wav["syn-flac8k"] = str(H.write_wav(a / "f8.flac", H.sine(8000, 0.6), 8000))
    # -D: no dither; sox dithers with a random seed by default when it resamples
    wav["syn-pipe22k"] = f"{sox} -D {an4['fash-an253-b'][0]} -r 22050 -t wav - |"
    (a / "corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(64)))
    (a / "empty.wav").write_bytes(b"")
    nan = H.sine(16000, 0.3)
    nan[1000] = np.nan
    wav["bad-corrupt"] = str(a / "corrupt.wav")
    wav["bad-empty"] = str(a / "empty.wav")
    wav["bad-nan"] = str(H.write_wav(a / "nan.wav", nan, 16000, subtype="FLOAT"))
    wav["bad-pipe"] = f"{sox} {a}/missing.wav -t wav - | cat | false |"
    wav["bad-short"] = str(H.write_wav(a / "short.wav", H.sine(16000, 300 / 16000), 16000))
    wav["bad-zero"] = str(H.write_wav(a / "zero.wav", np.zeros(0, np.int16), 16000))
    spk = {u: u.split("-")[0] for u in wav}
    text = {u: (an4[u][1] if u in an4 else f"SYNTHETIC {u.upper()}") for u in wav}
    fra = {u: f"traduction de {u}" for u in wav}
    genders = {s: ("f" if s.startswith("f") else "m") for s in set(spk.values())}
    return H.make_data_dir(
        root / "data", wav, spk, text, extra={"text.fra": fra, "spk2gender": genders}
    )


def utt_ids(data_dir: Path) -> List[str]:
    return [line.split()[0] for line in (data_dir / "wav.scp").read_text().splitlines()]


def split_keys(data_dir: Path, work: Path, nj: int, name: str = "wav.scp") -> List[Path]:
    """Contiguous split like utils/split_scp.sh."""
    keys = [line.split()[0] for line in (data_dir / name).read_text().splitlines()]
    work.mkdir(parents=True, exist_ok=True)
    paths = []
    for j in range(nj):
        chunk = keys[j * len(keys) // nj : (j + 1) * len(keys) // nj]
        path = work / f"keys.{j + 1}.scp"
        path.write_text("".join(k + "\n" for k in chunk))
        paths.append(path)
    return paths


def run_stage2(data_dir: Path, out_dir: Path, nj: int = 3, extra: List[str] = (), ratio="0.5"):
    for j, key_file in enumerate(split_keys(data_dir, out_dir.parent / "logdir", nj), start=1):
        cli.main(
            ["--data_dir", str(data_dir), "--key_file", str(key_file), "--out_dir", str(out_dir),
             "--job", str(j), *extra]
        )
    cli.main(["--merge", "--data_dir", str(data_dir), "--out_dir", str(out_dir), "--nj", str(nj),
              "--max_failed_ratio", ratio])


def snapshot(root: Path) -> Dict[str, bytes]:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


def read_table(path: Path) -> Dict[str, str]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition(" ")
        out[key] = value
    return out


@pytest.fixture(scope="module")
def formatted(mixed_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("stage2") / "dump" / "raw" / "train"
    run_stage2(mixed_dir, out)
    return out


def test_outputs_are_16k_mono_pcm16_with_expected_lengths(formatted, mixed_dir, an4):
    scp = read_table(formatted / "wav.scp")
    good = [u for u in utt_ids(mixed_dir) if u not in BAD]
    assert list(scp) == good == H.byte_sorted(good) and len(good) == 11
    num = read_table(formatted / "utt2num_samples")
    assert list(num) == good
    lengths = {}
    for utt, path in scp.items():
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.subtype, info.format) == (
            16000, 1, "PCM_16", "WAV"
        ), utt
        assert Path(path).parent == job_dir(formatted, Path(path).parent.name.split(".")[1])
        assert int(num[utt]) == info.frames
        lengths[utt] = info.frames
    assert lengths["syn-stereo44k"] == math.ceil(32237 * 16000 / 44100) == 11696
    assert lengths["syn-flac8k"] == 2 * 4800
    src22 = sf.info(str(an4["fash-an253-b"][0])).frames
    assert lengths["syn-pipe22k"] == math.ceil(math.ceil(src22 * 22050 / 16000) * 16000 / 22050)
    for utt, (sph, _) in an4.items():  # 16 kHz 16-bit mono input is copied bit-exactly
        expected, _ = sf.read(str(sph), dtype="int16")
        got, _ = sf.read(scp[utt], dtype="int16")
        np.testing.assert_array_equal(got, expected)


def test_downmix_is_the_channel_mean(formatted):
    scp = read_table(formatted / "wav.scp")
    cancel, _ = sf.read(scp["syn-cancel"], dtype="int16")  # right = -left
    assert len(cancel) == 8000 and not cancel.any()
    stereo, _ = sf.read(scp["syn-stereo44k"])
    spectrum = np.abs(np.fft.rfft(stereo))
    peak_hz = np.argmax(spectrum) * 16000 / len(stereo)
    assert abs(peak_hz - 1000) < 5
    # channels are 0.5*sin(wt) and 0.5*sin(wt+1): their mean has amplitude 0.5*cos(0.5)
    rms = np.sqrt(np.mean(stereo[200:-200] ** 2))
    assert rms == pytest.approx(0.5 * math.cos(0.5) / math.sqrt(2), rel=0.01)


@pytest.mark.fault
def test_failed_list(formatted):
    failed = read_table(formatted / "failed")
    assert list(failed) == sorted(BAD)
    for utt, prefix in BAD.items():
        assert failed[utt].startswith(prefix), (utt, failed[utt])
    assert "\n" not in (formatted / "failed").read_text().rstrip("\n").replace("\n", "", 5)


def test_other_files_are_filtered_to_survivors(formatted, mixed_dir):
    good = [u for u in utt_ids(mixed_dir) if u not in BAD]
    src_text = read_table(mixed_dir / "text")
    assert read_table(formatted / "text") == {u: src_text[u] for u in good}
    assert list(read_table(formatted / "text.fra")) == good
    assert list(read_table(formatted / "utt2spk")) == good
    spk2utt = read_table(formatted / "spk2utt")
    assert "bad" not in spk2utt and spk2utt["syn"] == (
        "syn-cancel syn-flac8k syn-pipe22k syn-stereo44k"
    )
    assert "bad" not in read_table(formatted / "spk2gender")
    assert len(read_table(formatted / "spk2gender")) == 6
    assert (formatted / "audio_format").read_text() == "wav\n"
    assert (formatted / "feats_type").read_text() == "raw\n"
    assert not (formatted / "segments").exists()
    result = validate_data_dir(formatted, nj=2)
    assert result.ok, describe(result.first_errors())
    assert dict(result.summary.rates) == {16000: 11} and dict(result.summary.channels) == {1: 11}


@pytest.mark.fault
def test_too_many_failures_fail_the_merge(formatted, mixed_dir, tmp_path):
    out = tmp_path / "dump"
    shutil.copytree(formatted, out)
    with pytest.raises(FormatError, match=r"6 of 17 utterances failed \(35.3% > "):
        merge_jobs(mixed_dir, out, 3)  # default --max_failed_ratio 0.05
    assert not (out / "wav.scp").exists() and not (out / "utt2num_samples").exists()
    assert list(read_table(out / "failed")) == sorted(BAD)
    # the CLI exits with status 1 and says why (run as a real subprocess)
    proc = subprocess.run(
        [sys.executable, "-m", "espnet_spire.bin.format_wav_scp", "--merge", "--data_dir",
         str(mixed_dir), "--out_dir", str(out), "--nj", "3"],
        capture_output=True, text=True, cwd=REPO,
    )
    assert proc.returncode == 1 and "--max_failed_ratio 5.0%" in proc.stderr
    merge_jobs(mixed_dir, out, 3, max_failed_ratio=0.36)
    assert (out / "wav.scp").exists()
    with pytest.raises(FormatError, match=r"6 of 17 utterances failed \(35.3% > --max_failed_ratio 35.0%\)"):
        merge_jobs(mixed_dir, out, 3, max_failed_ratio=0.35)


@pytest.mark.fault
def test_restart_skips_finished_jobs_and_is_byte_identical(mixed_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = Path("dump/raw/train")
    run_stage2(mixed_dir, out)
    reference = snapshot(out)
    # simulate a crash inside job 2: marker and a piece missing, an audio file half written
    j1, j2 = job_dir(out, 1), job_dir(out, 2)
    (j2 / ".done").unlink()
    (j2 / "wav.scp").unlink()
    victim = sorted(j2.glob("*.wav"))[0]
    victim.write_bytes(victim.read_bytes()[:100])
    (out / "wav.scp").unlink()
    mtimes = {p: p.stat().st_mtime_ns for p in j1.iterdir()}
    keys = split_keys(mixed_dir, tmp_path / "keys", 3)
    results = [
        run_format_job(mixed_dir, (keys[j - 1]).read_text().split(), out, j) for j in (1, 2, 3)
    ]
    assert [r.skipped for r in results] == [True, False, True]
    assert {p: p.stat().st_mtime_ns for p in j1.iterdir()} == mtimes
    merge_jobs(mixed_dir, out, 3, max_failed_ratio=0.5)
    assert snapshot(out) == reference


def test_changed_options_redo_the_job(mixed_dir, tmp_path):
    keys = [u for u in utt_ids(mixed_dir) if u not in BAD][:3]
    first = run_format_job(mixed_dir, keys, tmp_path, 1)
    assert not first.skipped and first.num_ok == 3
    assert job_is_done(mixed_dir, keys, tmp_path, 1)
    assert not job_is_done(mixed_dir, keys, tmp_path, 1, FormatOptions(min_samples=401))
    assert run_format_job(mixed_dir, keys, tmp_path, 1).skipped
    again = run_format_job(mixed_dir, keys, tmp_path, 1, FormatOptions(audio_format="flac"))
    assert not again.skipped
    audio = [p.suffix for p in job_dir(tmp_path, 1).iterdir() if p.suffix in (".wav", ".flac")]
    assert audio == [".flac"] * 3  # the old .wav files are gone
    assert not run_format_job(mixed_dir, keys[:2], tmp_path, 1).skipped  # other keys


@pytest.mark.parametrize("audio_format", ["wav", "flac"])
def test_deterministic(mixed_dir, tmp_path, monkeypatch, audio_format):
    trees = []
    for run in ("a", "b"):
        base = tmp_path / run
        base.mkdir()
        monkeypatch.chdir(base)
        run_stage2(mixed_dir, Path("dump/raw/set"), nj=2 if run == "a" else 4,
                   extra=["--audio_format", audio_format])
        tree = snapshot(base / "dump/raw/set")
        # job layout differs with nj; the audio and the merged lists must not
        trees.append(
            {
                "lists": {k: v for k, v in tree.items() if "/" not in k and k != "wav.scp"},
                "audio": {Path(k).name: v for k, v in tree.items() if k.endswith(audio_format)},
                "wav.scp": [line.split()[0] for line in tree["wav.scp"].decode().splitlines()],
            }
        )
    assert trees[0] == trees[1]
    assert len(trees[0]["audio"]) == 11
    assert trees[0]["lists"]["audio_format"] == f"{audio_format}\n".encode()


def test_segments(an4, tmp_path, sox):
    sph, _ = an4["fbbh-cen8-b"]
    frames = sf.info(str(sph)).frames
    seconds = frames / 16000
    d = H.make_data_dir(
        tmp_path / "data",
        {"rec-file": str(sph), "rec-pipe": f"{sox} -D {sph} -r 8000 -t wav - |"},
        {u: "s" for u in ["s-a", "s-b", "s-c", "s-d", "s-e", "s-f"]},
        segments={
            "s-a": ("rec-file", 0.25, 2.01),
            "s-b": ("rec-file", 2.01, -1),
            "s-c": ("rec-file", 1.0, 1.0),  # zero length
            "s-d": ("rec-file", seconds + 1, seconds + 2),  # after the end
            "s-e": ("rec-pipe", 0.5, 1.5),
            "s-f": ("rec-pipe", 1.5, 1.52),  # 160 samples at 8 kHz -> 320 < 400
        },
    )
    out = tmp_path / "dump"
    keys = split_keys(d, tmp_path / "keys", 2, name="segments")
    for j, key_file in enumerate(keys, start=1):
        run_format_job(d, key_file.read_text().split(), out, j)
    merge_jobs(d, out, 2, max_failed_ratio=0.6)
    num = {u: int(n) for u, n in read_table(out / "utt2num_samples").items()}
    assert num == {"s-a": 32160 - 4000, "s-b": frames - 32160, "s-e": 16000}
    full, _ = sf.read(str(sph), dtype="int16")
    got, _ = sf.read(read_table(out / "wav.scp")["s-a"], dtype="int16")
    np.testing.assert_array_equal(got, full[4000:32160])
    failed = read_table(out / "failed")
    assert list(failed) == ["s-c", "s-d", "s-f"]
    assert failed["s-c"].startswith("zero length after segmentation: zero-length segment")
    assert failed["s-d"].startswith("zero length after segmentation (segment outside")
    assert failed["s-f"].startswith("too short: 320 samples")


def test_merge_refuses_incomplete_or_mismatched_jobs(mixed_dir, tmp_path):
    keys = split_keys(mixed_dir, tmp_path / "keys", 2)
    run_format_job(mixed_dir, keys[0].read_text().split(), tmp_path / "o", 1)
    with pytest.raises(FormatError, match="1 of 2 jobs did not finish"):
        merge_jobs(mixed_dir, tmp_path / "o", 2)
    with pytest.raises(FormatError, match=r"jobs do not cover .*: 9 utterances missing"):
        merge_jobs(mixed_dir, tmp_path / "o", 1)
    with pytest.raises(FormatError, match="not utterances of"):
        run_format_job(mixed_dir, ["nope"], tmp_path / "o", 3)


def test_cli_usage_errors(mixed_dir, tmp_path, capsys, caplog):
    with pytest.raises(SystemExit) as e:
        cli.main(["--data_dir", str(mixed_dir), "--out_dir", str(tmp_path)])
    assert e.value.code == 2
    assert "error: job mode needs --job" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        cli.main(["--data_dir", str(mixed_dir), "--out_dir", str(tmp_path), "--job", "1"])
    assert e.value.code == 2
    assert "error: job mode needs --data_dir, --key_file and --out_dir, or --job_list" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        cli.main(["--merge", "--data_dir", str(mixed_dir), "--out_dir", str(tmp_path)])
    assert e.value.code == 2
    assert "error: --merge needs --data_dir, --out_dir and --nj N (N >= 1), or --merge_list" in capsys.readouterr().err
    bad = tmp_path / "merge.list"
    bad.write_text(f"{mixed_dir}\t{tmp_path}\n")
    with pytest.raises(SystemExit) as e:
        cli.main(["--merge", "--merge_list", str(bad)])
    assert e.value.code == 1    # a bad job list is an error of the run (logged), not of the options
    assert f"{bad}:1: expected 3 tab-separated fields (data_dir, out_dir, nj)" in caplog.text
    bad.write_text(f"{mixed_dir}\t{tmp_path}\t0\n")
    with pytest.raises(SystemExit) as e:
        cli.main(["--merge", "--merge_list", str(bad)])
    assert e.value.code == 1
    assert f"{bad}: nj must be a positive integer, got '0'" in caplog.text


@pytest.mark.parametrize("method", RESAMPLERS)
@pytest.mark.parametrize("orig", [8000, 11025, 22050, 44100, 48000])
@pytest.mark.parametrize("length", [1, 399, 1000, 44101])
def test_resampled_length_matches_resampler(orig, length, method):
    x = np.random.default_rng(0).uniform(-0.5, 0.5, length).astype(np.float32)
    y = resample(x, orig, 16000, method)
    assert y.dtype == np.float32 and len(y) == resampled_length(length, orig, 16000)
    assert len(y) == math.ceil(length * 16000 / orig)


def test_pcm16_and_downmix_helpers():
    x = np.array([-1.5, -1.0, -0.5, 0.0, 0.5, 1.0 - 2**-15, 1.0, 2.0], dtype=np.float32)
    np.testing.assert_array_equal(
        to_pcm16(x), [-32768, -32768, -16384, 0, 16384, 32767, 32767, 32767]
    )
    stereo = np.array([[1.0, 0.0], [0.5, -0.5]], dtype=np.float32)
    np.testing.assert_array_equal(downmix(stereo), [0.5, 0.0])
    assert downmix(stereo[:, :1]).shape == (2,)
    np.testing.assert_array_equal(resample(x, 16000, 16000), x)  # no filtering at 16 kHz


def test_soxr_hq_is_librosa_soxr_hq_and_differs_from_sinc_only_off_16k(an4):
    """soxr_hq gives what SpireLM's labeller gets from librosa; 16 kHz input is never filtered."""
    import librosa

    speech, rate = sf.read(str(an4["fash-an253-b"][0]), dtype="float32")
    assert rate == 16000
    x44 = librosa.resample(speech, orig_sr=16000, target_sr=44100, res_type="soxr_hq")
    soxr_out, sinc_out = resample(x44, 44100, 16000, "soxr_hq"), resample(x44, 44100, 16000, "sinc")
    np.testing.assert_array_equal(soxr_out, librosa.resample(x44, orig_sr=44100, target_sr=16000, res_type="soxr_hq"))
    assert len(soxr_out) == len(sinc_out) == math.ceil(len(x44) * 16000 / 44100)
    assert np.mean(soxr_out != sinc_out) > 0.5 and np.max(np.abs(soxr_out - sinc_out)) > 1e-4
    for method in RESAMPLERS:
        np.testing.assert_array_equal(resample(speech, 16000, 16000, method), speech)
    with pytest.raises(ValueError, match="unknown resampler 'sox': use one of soxr_hq, sinc"):
        resample(speech, 44100, 16000, "sox")


def test_resampler_option_reaches_stage2(mixed_dir, formatted, tmp_path):
    """--resampler sinc changes only the resampled utterances; the 16 kHz ones stay byte-identical."""
    out = tmp_path / "dump" / "raw" / "train"
    run_stage2(mixed_dir, out, extra=["--resampler", "sinc"])
    soxr_scp, sinc_scp = read_table(formatted / "wav.scp"), read_table(out / "wav.scp")
    assert list(soxr_scp) == list(sinc_scp)
    resampled = {"syn-stereo44k", "syn-flac8k", "syn-pipe22k"}
    for utt in soxr_scp:
        a, b = Path(soxr_scp[utt]).read_bytes(), Path(sinc_scp[utt]).read_bytes()
        assert (a != b) == (utt in resampled), utt
