"""The data-dir checker: a good directory passes with the right summary, each kind of broken
directory fails with a message naming the file and line."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from espnet_spire.bin import validate_data_dir as cli
from espnet_spire.data.validate import describe, validate_data_dir

try:
    from tests import spire_audio_helpers as H
except ImportError:  # pragma: no cover
    import spire_audio_helpers as H

try:
    from tests.recipe_paths import UTILS
except ImportError:  # pragma: no cover
    from recipe_paths import UTILS

REPO = Path(__file__).resolve().parents[1]
WRAPPER = UTILS / "validate_data_dir.sh"


@pytest.fixture(scope="session")
def good_dir(tmp_path_factory, an4, sox):
    """7 AN4 sph files + a 44.1 kHz stereo wav, an 8 kHz flac and a sox pipe."""
    root = tmp_path_factory.mktemp("good")
    audio = root / "audio"
    audio.mkdir()
    wav = {u: str(p) for u, (p, _) in an4.items()}
    wav["syn-stereo44k"] = str(H.write_wav(audio / "s.wav", H.sine(44100, 1.0, 2), 44100))
    wav["syn-flac8k"] = str(H.write_wav(audio / "f.flac", H.sine(8000, 0.5), 8000))
    wav["syn-pipe"] = f"{sox} {an4['fash-an253-b'][0]} -t wav - |"
    spk = {u: u.split("-")[0] for u in wav}
    text = {u: an4[u][1] if u in an4 else "HELLO WORLD" for u in wav}
    deu = {u: f"Übersetzung {i}" for i, u in enumerate(wav)}
    return H.make_data_dir(root / "data", wav, spk, text, extra={"text.deu": deu})


def copy_dir(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def lines(path: Path) -> list:
    return path.read_text(encoding="utf-8").splitlines()


def messages(result) -> list:
    return describe(result.first_errors())


def find(result, kind: str) -> list:
    return [e for e in result.errors if e.kind == kind]


def test_good_dir_passes_with_summary(good_dir, an4):
    result = validate_data_dir(good_dir, nj=2)
    assert result.ok, messages(result)
    s = result.summary
    assert (s.num_utts, s.num_speakers, s.num_recordings) == (10, 6, 10)
    assert dict(s.rates) == {16000: 8, 44100: 1, 8000: 1}
    assert dict(s.channels) == {1: 9, 2: 1}
    an4_seconds = sum(sf.info(str(p)).duration for p, _ in an4.values())
    piped = sf.info(str(an4["fash-an253-b"][0])).duration
    assert s.total_seconds == pytest.approx(an4_seconds + piped + 1.0 + 0.5, abs=1e-6)


def test_cli_prints_summary_and_exits_zero(good_dir, capsys, tmp_path):
    cli.main([str(good_dir), "--nj", "1", "--summary_json", str(tmp_path / "s.json")])
    out = capsys.readouterr().out
    assert f"{good_dir}: OK" in out
    assert "utterances: 10, speakers: 6, recordings: 10" in out
    assert "sample rates: {8000: 1, 16000: 8, 44100: 1}" in out
    assert "channels: {1: 9, 2: 1}" in out
    assert '"sample_rates": {\n    "8000": 1,' in (tmp_path / "s.json").read_text()


def test_wrapper_script(good_dir, tmp_path):
    env_cmd = [
        "bash",
        str(WRAPPER),
        "--python",
        f"{sys.executable} -X utf8",
        "--no_audio",
    ]
    ok = subprocess.run(env_cmd + [str(good_dir)], capture_output=True, text=True, cwd=REPO)
    assert ok.returncode == 0, ok.stderr
    assert "audio not checked" in ok.stdout
    bad = copy_dir(good_dir, tmp_path / "bad")
    (bad / "spk2utt").unlink()
    res = subprocess.run(env_cmd + [str(bad)], capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 1
    assert f"ERROR: {bad}/spk2utt: [missing file]" in res.stderr
    usage = subprocess.run(["bash", str(WRAPPER)], capture_output=True, text=True)
    assert usage.returncode == 2 and "Usage" in usage.stderr


def test_unsorted_file(good_dir, tmp_path):
    bad = copy_dir(good_dir, tmp_path / "bad")
    rows = lines(bad / "utt2spk")
    rows[3], rows[4] = rows[4], rows[3]
    H.write_lines(bad / "utt2spk", rows)
    result = validate_data_dir(bad, check_audio=False)
    assert not result.ok
    (err,) = find(result, "unsorted")
    assert (err.path, err.lineno) == (str(bad / "utt2spk"), 5)
    assert f"{bad}/utt2spk:5: [unsorted]" in messages(result)[0]


def test_sorted_by_bytes_not_by_locale(tmp_path, an4):
    # "a_b" < "ab" in C order ('_' = 0x5f < 'b' = 0x62) although many locales say otherwise,
    # and "B" < "a".
    path = str(next(iter(an4.values()))[0])
    wav = {"B": path, "a_b": path, "ab": path}
    d = H.make_data_dir(tmp_path / "d", wav, {u: "s" for u in wav}, {u: "x" for u in wav})
    assert lines(d / "wav.scp")[0].startswith("B ")
    assert validate_data_dir(d, check_audio=False).ok
    H.write_lines(d / "text", ["a_b x", "ab x", "B x"])
    result = validate_data_dir(d, check_audio=False)
    assert [(e.kind, Path(e.path).name, e.lineno) for e in result.errors] == [
        ("unsorted", "text", 3)
    ]


def test_duplicate_id(good_dir, tmp_path):
    bad = copy_dir(good_dir, tmp_path / "bad")
    rows = lines(bad / "text")
    rows.insert(2, rows[1])
    H.write_lines(bad / "text", rows)
    result = validate_data_dir(bad, check_audio=False)
    (err,) = find(result, "duplicate id")
    assert (Path(err.path).name, err.lineno) == ("text", 3)
    assert "already on line 2" in err.message
    assert len(result.errors) == 1


def test_mismatched_ids(good_dir, tmp_path):
    bad = copy_dir(good_dir, tmp_path / "bad")
    rows = lines(bad / "utt2spk")
    dropped = rows.pop(6).split()[0]
    H.write_lines(bad / "utt2spk", rows)
    H.write_lines(bad / "text.deu", lines(bad / "text.deu") + ["zzz-extra hallo"])
    result = validate_data_dir(bad, check_audio=False)
    text = "\n".join(messages(result))
    assert f"utt2spk: [missing id] utterance '{dropped}' (wav.scp line 7) has no line here" in text
    assert f"{bad}/text.deu:11: [unknown id] id 'zzz-extra' is not in wav.scp" in text
    # the dropped utterance is still in spk2utt
    assert f"utterance '{dropped}' of speaker" in text


def test_spk2utt_inconsistent(good_dir, tmp_path):
    bad = copy_dir(good_dir, tmp_path / "bad")
    rows = lines(bad / "spk2utt")  # fash, fbbh, fcaw, mmxg, mwhw, syn: moves fash's 2nd utt
    fields = rows[0].split()
    moved = fields.pop()
    rows[0] = " ".join(fields)
    rows[1] = rows[1] + " " + moved
    H.write_lines(bad / "spk2utt", rows)
    result = validate_data_dir(bad, check_audio=False)
    (err,) = result.errors
    assert (err.kind, Path(err.path).name, err.lineno) == ("spk2utt mismatch", "spk2utt", 2)
    assert f"'{moved}' is under speaker 'fbbh' but utt2spk says 'fash'" in err.message


def test_unreadable_audio(good_dir, tmp_path):
    bad = copy_dir(good_dir, tmp_path / "bad")
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    rows = lines(bad / "wav.scp")
    rows[1] = rows[1].split()[0] + f" {corrupt}"
    rows[8] = rows[8].split()[0] + f" {empty}"
    H.write_lines(bad / "wav.scp", rows)
    result = validate_data_dir(bad, nj=2)
    errs = find(result, "unreadable audio")
    assert [(Path(e.path).name, e.lineno) for e in errs] == [("wav.scp", 2), ("wav.scp", 9)]
    assert "corrupt.wav" in errs[0].message
    assert len(result.errors) == 2
    assert "(+1 more of this kind)" in messages(result)[0]
    assert result.summary.num_utts == 10 and sum(result.summary.rates.values()) == 8
    assert validate_data_dir(bad, check_audio=False).ok


def test_nan_and_empty_audio_and_failing_pipe(good_dir, tmp_path):
    bad = copy_dir(good_dir, tmp_path / "bad")
    nan = H.sine(16000, 0.1)
    nan[5] = np.inf
    nan_path = H.write_wav(tmp_path / "nan.wav", nan, 16000, subtype="FLOAT")
    zero_path = H.write_wav(tmp_path / "zero.wav", np.zeros(0, dtype=np.float32), 16000)
    rows = lines(bad / "wav.scp")
    rows[0] = rows[0].split()[0] + f" {nan_path}"
    rows[1] = rows[1].split()[0] + f" {zero_path}"
    rows[2] = rows[2].split()[0] + " exit 1 |"
    H.write_lines(bad / "wav.scp", rows)
    result = validate_data_dir(bad)
    got = {(e.kind, e.lineno) for e in result.errors}
    assert got == {("non-finite audio", 1), ("empty audio", 2), ("unreadable audio", 3)}


def test_empty_values(good_dir, tmp_path):
    bad = copy_dir(good_dir, tmp_path / "bad")
    rows = lines(bad / "utt2spk")
    rows[2] = rows[2].split()[0]
    H.write_lines(bad / "utt2spk", rows)
    rows = lines(bad / "text")
    rows[0] = rows[0].split()[0]
    H.write_lines(bad / "text", rows)
    result = validate_data_dir(bad, check_audio=False)
    assert [(e.kind, Path(e.path).name, e.lineno) for e in find(result, "empty value")] == [
        ("empty value", "utt2spk", 3)
    ]
    # an empty transcript is only a warning
    assert [(w.kind, Path(w.path).name, w.lineno) for w in result.warnings] == [
        ("empty value", "text", 1)
    ]


def test_missing_files_and_no_text(good_dir, tmp_path):
    bad = copy_dir(good_dir, tmp_path / "bad")
    (bad / "text").unlink()
    result = validate_data_dir(bad, check_audio=False)
    assert [(e.kind, Path(e.path).name) for e in result.errors] == [("missing file", "text")]
    assert validate_data_dir(bad, check_audio=False, check_text=False).ok
    # --no_text also skips text.* files
    H.write_lines(bad / "text.deu", ["unsorted-b x", "unsorted-a y"])
    assert validate_data_dir(bad, check_audio=False, check_text=False).ok
    nowhere = validate_data_dir(tmp_path / "nowhere")
    assert not nowhere.ok
    assert messages(nowhere) == [f"{tmp_path / 'nowhere'}: [missing directory] not a directory"]


def test_invalid_utf8(good_dir, tmp_path):
    bad = copy_dir(good_dir, tmp_path / "bad")
    data = (bad / "text").read_bytes().replace(b"GO", b"G\xff", 1)
    (bad / "text").write_bytes(data)
    (err,) = validate_data_dir(bad, check_audio=False).errors
    assert (err.kind, Path(err.path).name) == ("encoding", "text")


def test_utt2num_samples_checked_against_audio(good_dir, tmp_path, an4):
    bad = copy_dir(good_dir, tmp_path / "bad")
    utts = [row.split()[0] for row in lines(bad / "wav.scp")]
    counts = {}
    for u in utts:
        if u in an4:
            counts[u] = str(sf.info(str(an4[u][0])).frames)
        elif u == "syn-pipe":
            counts[u] = str(sf.info(str(an4["fash-an253-b"][0])).frames)
        else:
            counts[u] = {"syn-stereo44k": "44100", "syn-flac8k": "4000"}[u]
    H.write_lines(bad / "utt2num_samples", [f"{u} {counts[u]}" for u in utts])
    assert validate_data_dir(bad).ok
    counts[utts[3]] = "123"
    counts[utts[4]] = "-5"
    H.write_lines(bad / "utt2num_samples", [f"{u} {counts[u]}" for u in utts])
    result = validate_data_dir(bad)
    got = sorted((e.kind, e.lineno) for e in result.errors)
    assert got == [("bad value", 5), ("num_samples mismatch", 4)]


def test_segments(tmp_path, an4):
    path, _ = an4["fbbh-cen8-b"]
    seconds = sf.info(str(path)).duration
    d = H.make_data_dir(
        tmp_path / "seg",
        {"rec1": str(path)},
        {"s-a": "s", "s-b": "s", "s-c": "s"},
        {"s-a": "x", "s-b": "y", "s-c": "z"},
        segments={"s-a": ("rec1", 0.0, 1.0), "s-b": ("rec1", 1.0, -1), "s-c": ("rec1", 0.5, 0.75)},
    )
    result = validate_data_dir(d)
    assert result.ok, messages(result)
    assert result.summary.num_utts == 3 and result.summary.num_recordings == 1
    assert result.summary.total_seconds == pytest.approx(seconds + 0.25, abs=1e-4)

    H.write_lines(
        d / "segments",
        [
            "s-a rec1 1.0 1.0",  # zero length
            f"s-b rec1 {seconds + 5} -1",  # starts after the end
            "s-c recX 0 1",  # unknown recording
        ],
    )
    result = validate_data_dir(d)
    got = sorted((e.kind, Path(e.path).name, e.lineno) for e in result.errors)
    assert got == [
        ("bad segment", "segments", 1),
        ("segment out of range", "segments", 2),
        ("unknown recording", "segments", 3),
    ]
    assert "zero-length segment" in find(result, "bad segment")[0].message


def test_all_errors_collected_before_failing(good_dir, tmp_path, capsys):
    bad = copy_dir(good_dir, tmp_path / "bad")
    rows = lines(bad / "text")
    rows[0], rows[1] = rows[1], rows[0]
    H.write_lines(bad / "text", rows)
    rows = lines(bad / "wav.scp")
    rows[9] = rows[9].split()[0] + f" {tmp_path}/missing.wav"
    H.write_lines(bad / "wav.scp", rows)
    with pytest.raises(SystemExit) as exit_:
        cli.main([str(bad)])
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert f"ERROR: {bad}/text:2: [unsorted]" in err
    assert f"ERROR: {bad}/wav.scp:10: [unreadable audio]" in err and "no such file" in err


@pytest.mark.slow
def test_fast_on_2500_short_wavs(tmp_path):
    audio = tmp_path / "a"
    audio.mkdir()
    data = (H.sine(16000, 1.0) * 32767).astype(np.int16)
    wav = {}
    for i in range(2500):
        p = audio / f"{i}.wav"
        sf.write(str(p), data, 16000)
        wav[f"spk{i % 25:02d}-utt{i:05d}"] = str(p)
    d = H.make_data_dir(tmp_path / "d", wav, {u: u[:5] for u in wav}, {u: "x" for u in wav})
    start = time.perf_counter()
    result = validate_data_dir(d, nj=2)
    elapsed = time.perf_counter() - start
    assert result.ok and result.summary.num_utts == 2500
    assert result.summary.total_seconds == pytest.approx(2500.0)
    assert elapsed < 30, f"validation took {elapsed:.1f} s"
