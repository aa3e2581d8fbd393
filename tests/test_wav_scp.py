"""Reading wav.scp entries: files (sph, wav, flac, mp3), pipes, segments, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from espnet_spire.audio import wav_scp
from espnet_spire.audio.wav_scp import (
    AudioReadError,
    Segment,
    WavScpReader,
    load_audio,
    parse_segment,
    probe_audio,
    read_segments,
    segment_problem,
)
from espnet_spire.common.kaldi_dir import KaldiFormatError

try:
    from tests import spire_audio_helpers as H
except ImportError:  # pragma: no cover - pytest's rootdir-less import mode
    import spire_audio_helpers as H


def test_sph_reads_as_16k_mono_float(an4):
    path, _ = an4["fash-an251-b"]
    audio, rate = load_audio(str(path))
    ints, rate2 = sf.read(str(path), dtype="int16")
    assert rate == rate2 == 16000
    assert audio.dtype == np.float32 and audio.ndim == 1 and len(audio) == len(ints) > 8000
    np.testing.assert_array_equal(audio, ints.astype(np.float32) / 32768.0)
    assert load_audio(str(path), always_2d=True)[0].shape == (len(ints), 1)


def test_stereo_44k_wav_and_flac(tmp_path):
    # int16 samples: libsndfile's own float->int conversion differs between WAV and FLAC
    data = np.round(H.sine(44100, 0.5, channels=2) * 32767).astype(np.int16)
    wav = H.write_wav(tmp_path / "a.wav", data, 44100)
    flac = H.write_wav(tmp_path / "a.flac", data, 44100)
    a, ra = load_audio(str(wav))
    b, rb = load_audio(str(flac))
    assert ra == rb == 44100 and a.shape == b.shape == (22050, 2)
    np.testing.assert_array_equal(a, data / np.float32(32768))
    np.testing.assert_array_equal(b, data / np.float32(32768))


def test_pipe_entry_matches_file(tmp_path, sox, an4):
    path, _ = an4["fbbh-cen8-b"]
    direct, rate = load_audio(str(path))
    piped, prate = load_audio(f"{sox} {path} -t wav - |")
    assert prate == rate == 16000
    np.testing.assert_array_equal(piped, direct)
    # a pipeline that resamples: sox writes a WAV header of unknown length to stdout
    r8k, rate8 = load_audio(f"cat {path} | {sox} -t sph - -r 8000 -t wav - |")
    assert rate8 == 8000 and abs(len(r8k) - len(direct) // 2) <= 1


def test_pipe_errors_are_reported(tmp_path, sox):
    with pytest.raises(AudioReadError, match="status 2.*can't open input file"):
        load_audio(f"{sox} {tmp_path}/missing.wav -t wav - |")
    with pytest.raises(AudioReadError, match="no output"):
        load_audio("true |")
    # pipefail: the first command fails although the last one succeeds with valid audio
    good = H.write_wav(tmp_path / "g.wav", H.sine(16000, 0.1), 16000)
    assert len(load_audio(f"cat {good} | cat |")[0]) == 1600
    with pytest.raises(AudioReadError, match="status 3"):
        load_audio(f"(cat {good}; exit 3) | cat |")
    with pytest.raises(AudioReadError, match="cannot decode the pipe output"):
        load_audio("echo not audio |")


def test_bad_files_raise_clear_errors(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    corrupt = tmp_path / "corrupt.flac"
    corrupt.write_bytes(b"fLaC" + bytes(range(256)) * 4)
    for path, pattern in [
        (tmp_path / "missing.wav", "no such file"),
        (empty, "cannot decode"),
        (corrupt, "cannot decode"),
        (tmp_path, "is a directory"),
    ]:
        with pytest.raises(AudioReadError, match=pattern):
            load_audio(str(path))
        with pytest.raises(AudioReadError, match=pattern):
            probe_audio(str(path))
    with pytest.raises(AudioReadError, match="empty wav.scp entry"):
        load_audio("  ")


def test_mp3(tmp_path, monkeypatch):
    path = tmp_path / "a.mp3"
    if "MP3" in sf.available_formats():
        sf.write(str(path), H.sine(16000, 1.0), 16000, format="MP3")
        audio, rate = load_audio(str(path))
        assert rate == 16000 and abs(len(audio) - 16000) < 2000
    else:  # pragma: no cover - depends on the libsndfile build
        path.write_bytes(b"\xff\xfb" + bytes(100))
    monkeypatch.setattr(wav_scp.sf, "available_formats", lambda: {"WAV": "wav"})
    with pytest.raises(AudioReadError, match="cannot decode MP3.*pipe entry"):
        load_audio(str(path))


def test_probe_reports_rate_channels_frames_and_nan(tmp_path):
    data = H.sine(22050, 0.2, channels=3)
    info = probe_audio(str(H.write_wav(tmp_path / "a.wav", data, 22050)))
    assert (info.rate, info.channels, info.frames, info.finite) == (22050, 3, 4410, True)
    nan = H.sine(16000, 0.1)
    nan[100] = np.nan
    info = probe_audio(str(H.write_wav(tmp_path / "n.wav", nan, 16000, subtype="FLOAT")))
    assert info.finite is False and info.frames == 1600


def test_parse_segments(tmp_path):
    assert parse_segment("rec 1.5 2.25") == Segment("rec", 1.5, 2.25)
    assert parse_segment("rec 0 -1") == Segment("rec", 0.0, None)
    for bad, message in (("rec 1", "expected 'recid start end', got 2 fields"),
                         ("rec a b", "start/end are not numbers: 'a' 'b'"),
                         ("rec 1 2 3", "expected 'recid start end', got 4 fields"),
                         ("rec 0 nan", "start/end must be finite")):
        with pytest.raises(ValueError, match=message):
            parse_segment(bad)
    assert segment_problem(Segment("r", 1.0, 1.0)).startswith("zero-length segment")
    assert segment_problem(Segment("r", -1.0, 1.0)).startswith("negative start")
    assert segment_problem(Segment("r", 1.0, None)) is None
    p = tmp_path / "segments"
    p.write_text("u1 r 0 1\nu2 r 1 x\n")
    with pytest.raises(KaldiFormatError, match=":2: start/end are not numbers"):
        read_segments(p)


def test_reader_with_segments_files_and_pipes(tmp_path, sox, an4):
    path, _ = an4["mwhw-cen8-b"]
    full, rate = load_audio(str(path))
    wav = {"recA": str(path), "recB": f"{sox} {path} -t wav - |"}
    segs = {
        "a1": Segment("recA", 0.5, 2.01),
        "a2": Segment("recA", 2.01, None),
        "b1": Segment("recB", 0.5, 2.01),
        "b2": Segment("recB", 2.01, None),
    }
    reader = WavScpReader(wav, segs)
    assert list(reader) == ["a1", "a2", "b1", "b2"] and len(reader) == 4
    a1, _ = reader["a1"]
    # 2.01 * 16000 = 32159.999...: rounding, not flooring, gives 32160
    np.testing.assert_array_equal(a1, full[8000:32160])
    np.testing.assert_array_equal(reader["a2"][0], full[32160:])
    np.testing.assert_array_equal(reader["b1"][0], a1)
    np.testing.assert_array_equal(reader["b2"][0], full[32160:])
    assert reader.entry("b1") == wav["recB"]
    with pytest.raises(KeyError, match="nope"):
        reader["nope"]
    missing = WavScpReader(wav, {"x": Segment("recZ", 0, 1)})
    with pytest.raises(AudioReadError, match="'recZ' is not in wav.scp"):
        missing["x"]


def test_segment_past_the_end_gives_empty_audio(an4):
    path, _ = an4["fash-an253-b"]
    audio, _ = load_audio(str(path), start=1000.0, end=1001.0)
    assert audio.shape == (0,)


def test_dump_wav_scp_reader_messages(tmp_path):
    """The stage-2 dump reader (unit stages) names file and line for each set-up error."""
    from espnet_spire.audio.wav_scp import AudioSetupError, read_wav_scp

    cases = {
        "u1 a.wav\n u2 b.wav\n": r"wav.scp:2: expected 'uttid path', got 'u2 b.wav'",
        "u1 a.wav\nu2\n": r"wav.scp:2: expected 'uttid path', got 'u2'",
        "u1 sox a.wav -t wav - |\n": r"wav.scp:1: pipe commands are not supported here",
        "u1 a.wav\n\nu1 b.wav\n": r"wav.scp:3: duplicate utterance id 'u1'",
    }
    for text, message in cases.items():
        (tmp_path / "wav.scp").write_text(text)
        with pytest.raises(AudioSetupError, match=message):
            read_wav_scp(str(tmp_path / "wav.scp"))
    with pytest.raises(AudioSetupError, match="wav.scp not found"):
        read_wav_scp(str(tmp_path / "none" / "wav.scp"))
