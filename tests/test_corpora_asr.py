"""The ASR corpora (LibriSpeech, MLS, GigaSpeech, SPGISpeech, VoxPopuli, Common Voice) from their
distributed layouts, through ``prepare_corpus``: valid dirs, counts, texts, durations, skipped rows,
the paper's rules on the fixture, determinism."""

import json

import pytest

from espnet_spire.bin import prepare_corpus
from espnet_spire.data.validate import validate_data_dir
from fixtures_asr import WRITERS, write_mls

EXTRA = {"gigaspeech": ["--subsets", "XS", "L", "DEV"]}


def _prepare(corpus, corpus_dir, data_root, *extra):
    with pytest.raises(SystemExit) as exit_info:
        prepare_corpus.main([corpus, "--corpus_dir", str(corpus_dir), "--data_root", str(data_root), *extra])
    assert exit_info.value.code == 0


def _kaldi(path):
    return dict(line.split(" ", 1) for line in path.read_text(encoding="utf-8").splitlines())


def check_dirs(data_root, expected):
    """Every expected dir exists, passes the checker and holds the expected counts, texts, durations, skips."""
    assert sorted(p.name for p in data_root.iterdir()) == sorted(expected)
    for name, exp in expected.items():
        d = data_root / name
        result = validate_data_dir(str(d))
        assert result.ok, (name, result.errors)
        facts = json.loads((d / "corpus.json").read_text())
        assert facts["utterances"] == exp["utterances"], name
        assert facts["speakers"] == exp["speakers"], name
        text = _kaldi(d / "text")
        assert len(text) == exp["utterances"]
        for utt, line in exp.get("texts", {}).items():
            assert text[utt] == line, name
        durations = _kaldi(d / "utt2dur")
        assert set(durations) == set(text)
        for utt, seconds in exp["durations"].items():
            assert float(durations[utt]) == pytest.approx(seconds, abs=1e-3), (name, utt)
        assert (d / "skipped").read_text().splitlines() == exp["skipped"], name


@pytest.mark.parametrize("corpus", sorted(WRITERS))
def test_corpus_from_its_layout(corpus, tmp_path):
    expected = WRITERS[corpus](tmp_path / "corpus")
    _prepare(corpus, tmp_path / "corpus", tmp_path / "data", *EXTRA.get(corpus, []))
    check_dirs(tmp_path / "data", expected)


@pytest.mark.parametrize("corpus", sorted(WRITERS))
def test_same_inputs_give_identical_files(corpus, tmp_path):
    WRITERS[corpus](tmp_path / "corpus")
    for out in ("a", "b"):
        _prepare(corpus, tmp_path / "corpus", tmp_path / out, *EXTRA.get(corpus, []))
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


def test_mls_opus_release(tmp_path):
    expected = write_mls(tmp_path / "corpus", ext="opus")
    _prepare("mls", tmp_path / "corpus", tmp_path / "data")
    check_dirs(tmp_path / "data", expected)
    assert _kaldi(tmp_path / "data" / "mls_en_dev" / "wav.scp")["6000_300_000000"].endswith("6000_300_000000.opus")


def test_mls_cap_is_the_papers_13_per_speaker(tmp_path):
    write_mls(tmp_path / "corpus")
    _prepare("mls", tmp_path / "corpus", tmp_path / "data", "--splits", "train")
    facts = json.loads((tmp_path / "data" / "mls_en_train_cpt" / "corpus.json").read_text())
    assert facts["rules"] == [{"name": "cap_per_speaker", "params": {"max_per_speaker": 13, "seed": 0},
                               "kept": 15, "removed": 3}]
    spk2utt = _kaldi(tmp_path / "data" / "mls_en_train_cpt" / "spk2utt")
    assert len(spk2utt["4800"].split()) == 13 and len(spk2utt["5000"].split()) == 2


def test_commonvoice_it_rules_are_the_papers(tmp_path):
    WRITERS["commonvoice"](tmp_path / "corpus")
    _prepare("commonvoice", tmp_path / "corpus", tmp_path / "data", "--splits", "train")
    facts = json.loads((tmp_path / "data" / "commonvoice_en_train_it" / "corpus.json").read_text())
    assert facts["rules"] == [
        {"name": "min_duration", "params": {"seconds": 3.0}, "kept": 6, "removed": 1},
        {"name": "max_speakers_per_text", "params": {"max_speakers": 4, "seed": 0}, "kept": 5, "removed": 1}]
    assert facts["release"] == "cv-corpus-18.0-2024-06-14"


def test_gigaspeech_segments_cut_the_opus_recordings(tmp_path):
    WRITERS["gigaspeech"](tmp_path / "corpus")
    _prepare("gigaspeech", tmp_path / "corpus", tmp_path / "data", "--subsets", "XS")
    d = tmp_path / "data" / "gigaspeech_xs"
    assert _kaldi(d / "segments")["YOU0000000315_S0000001"] == "YOU0000000315 0.500 2.250"
    assert _kaldi(d / "wav.scp")["YOU0000000315"].endswith("audio/youtube/P0000/YOU0000000315.opus")


@pytest.mark.parametrize("corpus,message", [
    ("librispeech", "LibriSpeech part test-clean not found"),
    ("mls", "MLS English split train not found"),
    ("gigaspeech", "GigaSpeech metadata not found"),
    ("spgispeech", "SPGISpeech manifest not found"),
    ("voxpopuli", "VoxPopuli English transcribed data not found"),
    ("commonvoice", "Common Voice en dir not found"),
])
def test_missing_corpus_is_named(corpus, message, tmp_path, caplog):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as exit_info:
        prepare_corpus.main([corpus, "--corpus_dir", str(tmp_path / "empty"), "--data_root", str(tmp_path / "d")])
    assert exit_info.value.code == 1
    assert message in caplog.text


def test_missing_manifest_column_is_named(tmp_path, caplog):
    WRITERS["voxpopuli"](tmp_path / "corpus")
    tsv = tmp_path / "corpus" / "transcribed_data" / "en" / "asr_train.tsv"
    tsv.write_text(tsv.read_text().replace("speaker_id", "speaker"))
    with pytest.raises(SystemExit):
        prepare_corpus.main(["voxpopuli", "--corpus_dir", str(tmp_path / "corpus"), "--data_root", str(tmp_path / "d")])
    assert "missing column(s) ['speaker_id']" in caplog.text
