"""Speech-translation corpora (CoVoST-2, FLEURS, Europarl-ST) from tiny fixtures in their released layouts."""

import filecmp
import json
import shutil

import pytest

from espnet_spire.bin import prepare_corpus
from espnet_spire.corpora.datadir import Utterance
from espnet_spire.corpora.fleurs import normalise_sentence, remove_flores_devtest_overlap
from espnet_spire.corpora.tsv import ManifestError
from espnet_spire.data.validate import validate_data_dir
from fixtures_st import write_covost2, write_europarl_st, write_fleurs


def _prepare(corpus, args, data_root):
    with pytest.raises(SystemExit) as exit_info:
        prepare_corpus.main([corpus, *args, "--data_root", str(data_root)])
    return exit_info.value.code


def _lines(path):
    return path.read_text(encoding="utf-8").splitlines()


def _check(data_root, expected):
    """Every dir valid with the expected count; the expected lines present in their files."""
    for name, count in expected["counts"].items():
        d = data_root / name
        result = validate_data_dir(str(d))
        assert result.ok, (name, result.errors)
        assert len(_lines(d / "text")) == count, name
        assert json.loads((d / "corpus.json").read_text())["utterances"] == count
    for key in ("text", "text.tc.de", "text.tc.fr", "text.tc.zh", "utt2dur", "segments"):
        for name, line in expected.get(key, {}).items():
            assert line in _lines(data_root / name / key), (name, key, line)
    for name, lines in expected["skipped"].items():
        assert _lines(data_root / name / "skipped") == lines, name


def _same_files(a, b):
    for d in a.iterdir():
        files = sorted(p.name for p in d.iterdir())
        assert files == sorted(p.name for p in (b / d.name).iterdir())
        match, mismatch, errors = filecmp.cmpfiles(d, b / d.name, files, shallow=False)
        assert not mismatch and not errors, (d.name, mismatch, errors)


def test_covost2_from_release_tsvs_and_common_voice_clips(tmp_path):
    expected = write_covost2(tmp_path / "corpus")
    assert _prepare("covost2", expected["args"], tmp_path / "data") == 0
    _check(tmp_path / "data", expected)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == sorted(expected["counts"])
    wav = _lines(tmp_path / "data" / "covost2_en_de_dev" / "wav.scp")[0]
    assert wav.endswith("/cv/en/clips/common_voice_en_4.mp3")
    assert _prepare("covost2", expected["args"], tmp_path / "again") == 0
    _same_files(tmp_path / "data", tmp_path / "again")


def test_covost2_per_split_files_and_missing_manifest(tmp_path):
    expected = write_covost2(tmp_path / "corpus")
    release = tmp_path / "corpus" / "covost" / "covost_v2.en_de.tsv"
    # the per-split file of get_covost_splits.py is preferred: a test file with one row only
    rows = _lines(release)
    (release.parent / "covost_v2.en_de.test.tsv").write_text(rows[0] + "\n" + rows[6] + "\n", encoding="utf-8")
    args = [*expected["args"], "--tgt_langs", "de", "--splits", "test"]
    assert _prepare("covost2", args, tmp_path / "data") == 0
    assert _lines(tmp_path / "data" / "covost2_en_de_test" / "text") == ["cccccccc-common_voice_en_5 Good night."]
    assert _lines(tmp_path / "data" / "covost2_en_de_test" / "skipped") == []
    release.unlink()
    with pytest.raises(ManifestError, match=r"neither .*covost_v2.en_de.tsv nor .*covost_v2.en_de.train.tsv"):
        prepare_corpus.CORPORA.get("covost2").prepare(prepare_corpus.get_parser().parse_args(
            ["covost2", *expected["args"], "--tgt_langs", "de", "--splits", "train"]))


def test_flores_overlap_rule_normalised_exact_match():
    devtest = {normalise_sentence(s) for s in ["Paris is the capital of France.", "Déjà vu, again!"]}
    utts = [Utterance("a", "a", "/a.wav", "paris is the Capital of france"),
            Utterance("b", "b", "/b.wav", "DÉJÀ VU again"),
            Utterance("c", "c", "/c.wav", "Paris is the capital of France and more.")]
    skipped = []
    kept, report = remove_flores_devtest_overlap(utts, devtest, skipped)
    assert [u.utt_id for u in kept] == ["c"]
    assert skipped == [("a", "fleurs_flores_devtest_overlap"), ("b", "fleurs_flores_devtest_overlap")]
    assert report.as_dict() == {"name": "fleurs_flores_devtest_overlap",
                                "params": {"match": "normalised_exact", "devtest_sentences": 2},
                                "kept": 1, "removed": 2}


def test_fleurs_en_us_audio_with_nine_languages_references(tmp_path):
    expected = write_fleurs(tmp_path / "corpus")
    assert _prepare("fleurs", expected["args"], tmp_path / "data") == 0
    _check(tmp_path / "data", expected)
    assert len(list((tmp_path / "data").iterdir())) == 3 * 10
    facts = json.loads((tmp_path / "data" / "fleurs_en_de_train" / "corpus.json").read_text())
    assert facts["rules"][0]["name"] == "fleurs_flores_devtest_overlap"
    assert facts["rules"][0]["removed"] == expected["overlap_removed"]
    test_facts = json.loads((tmp_path / "data" / "fleurs_en_test" / "corpus.json").read_text())
    assert test_facts["rules"] == []
    assert _prepare("fleurs", expected["args"], tmp_path / "again") == 0
    _same_files(tmp_path / "data", tmp_path / "again")


def test_fleurs_failing_paths(tmp_path):
    expected = write_fleurs(tmp_path / "corpus")
    data = expected["args"][1]
    parse = prepare_corpus.get_parser().parse_args
    prepare = prepare_corpus.CORPORA.get("fleurs").prepare
    with pytest.raises(ValueError, match="FLEURS train needs --flores_devtest"):
        prepare(parse(["fleurs", "--corpus_dir", data, "--data_root", str(tmp_path / "d")]))
    with pytest.raises(ValueError, match=r"FLEURS target language\(s\) \['xx'\] not known"):
        prepare(parse(["fleurs", "--corpus_dir", data, "--splits", "test", "--tgt_langs", "xx"]))
    test_audio = tmp_path / "corpus" / "fleurs" / "data" / "en_us" / "audio" / "test"
    shutil.rmtree(test_audio)
    (test_audio.parent / "test.tar.gz").write_bytes(b"")
    with pytest.raises(ManifestError, match=r"FLEURS audio dir not found: .*test \(extract it first: tar -xzf"):
        prepare(parse(["fleurs", "--corpus_dir", data, "--splits", "test", "--data_root", str(tmp_path / "d")]))


def test_europarl_st_m4a_through_ffmpeg_pipes_and_segments(tmp_path):
    expected = write_europarl_st(tmp_path / "corpus")
    assert _prepare("europarl_st", expected["args"], tmp_path / "data") == 0
    _check(tmp_path / "data", expected)
    wav = _lines(tmp_path / "data" / "europarl_st_en_de_train" / "wav.scp")
    assert len(wav) == 2 and wav[0].split(" ", 1)[1].startswith("ffmpeg -nostdin -v error -i ")
    assert wav[0].endswith("en.20080117.14.3-161.m4a -ac 1 -ar 16000 -f wav - |")
    assert _lines(tmp_path / "data" / "europarl_st_en_de_train" / "spk2utt")[0].startswith("12345 ")
    assert _prepare("europarl_st", expected["args"], tmp_path / "again") == 0
    _same_files(tmp_path / "data", tmp_path / "again")


def test_europarl_st_misaligned_lists_fail(tmp_path):
    expected = write_europarl_st(tmp_path / "corpus")
    de_dev = tmp_path / "corpus" / "v1.1" / "en" / "de" / "dev"
    (de_dev / "segments.de").write_text("one\ntwo\n")
    args = prepare_corpus.get_parser().parse_args(
        ["europarl_st", "--corpus_dir", expected["args"][1], "--tgt_langs", "de", "--splits", "dev"])
    with pytest.raises(ManifestError, match=r"segments.lst, segments.en and segments.de have 1, 1 and 2 lines"):
        prepare_corpus.CORPORA.get("europarl_st").prepare(args)
