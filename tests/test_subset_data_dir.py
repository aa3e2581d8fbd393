"""Subsets of prepared dirs by the paper's rules (k-means set, pseudo-labelling source) through the CLI."""

import json

import pytest

from espnet_spire.bin import prepare_corpus, subset_data_dir
from espnet_spire.corpora.datadir import Utterance, read_speech_dir, write_speech_dir
from espnet_spire.data.validate import validate_data_dir
from fixtures_asr import write_commonvoice, write_mls, write_spgispeech, write_voxpopuli


def _run(main, argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return exit_info.value.code


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """Prepared MLS, VoxPopuli, Common Voice (the CoVoST-2 stand-in: same clips and speakers) and SPGI dirs."""
    root = tmp_path_factory.mktemp("prepared")
    for corpus, write, extra in [("mls", write_mls, ["--splits", "train"]),
                                 ("voxpopuli", write_voxpopuli, ["--splits", "train"]),
                                 ("commonvoice", write_commonvoice, ["--splits", "train", "--it_split", "none"]),
                                 ("spgispeech", write_spgispeech, ["--splits", "train"])]:
        write(root / corpus)
        assert _run(prepare_corpus.main, [corpus, "--corpus_dir", str(root / corpus),
                                          "--data_root", str(root / "data"), *extra]) == 0
    return root / "data"


def _kmeans(prepared, out, *extra):
    return _run(subset_data_dir.main, [
        "kmeans", "--out", str(out), "--covost", str(prepared / "commonvoice_en_train"),
        "--voxpopuli", str(prepared / "voxpopuli_en_train"), "--mls", str(prepared / "mls_en_train"),
        "--covost_files", "5", "--covost_max_per_speaker", "1", "--voxpopuli_files", "2",
        "--voxpopuli_max_per_speaker", "1", "--mls_files", "6", *extra])


def test_kmeans_subset(prepared, tmp_path):
    assert _kmeans(prepared, tmp_path / "km") == 0
    d = tmp_path / "km"
    assert validate_data_dir(str(d)).ok
    facts = json.loads((d / "corpus.json").read_text())
    assert facts["subset"] == "kmeans" and facts["utterances"] == 5 + 2 + 6
    assert [(s["group"], s["dir"], s["utterances"]) for s in facts["sources"]] == [
        ("covost", "commonvoice_en_train", 7), ("voxpopuli", "voxpopuli_en_train", 3), ("mls", "mls_en_train", 18)]
    assert [(r["params"]["group"], r["name"], r["kept"], r["removed"]) for r in facts["rules"]] == [
        ("covost", "cap_per_speaker", 7, 0), ("covost", "sample_to_size", 5, 2),
        ("voxpopuli", "cap_per_speaker", 2, 1), ("voxpopuli", "sample_to_size", 2, 0),
        ("mls", "sample_to_size", 6, 12)]
    speech = read_speech_dir(d)
    voxpopuli_speakers = [u.speaker for u in speech.utterances if u.speaker in ("124737", "96650")]
    assert sorted(voxpopuli_speakers) == ["124737", "96650"]  # one file per speaker, as capped
    # same inputs and seed: byte-identical files
    assert _kmeans(prepared, tmp_path / "km2") == 0
    for f in d.iterdir():
        assert f.read_bytes() == (tmp_path / "km2" / f.name).read_bytes(), f.name


def test_kmeans_defaults_are_the_papers():
    args = subset_data_dir.get_parser().parse_args(["kmeans", "--out", "o", "--covost", "c", "--voxpopuli", "v",
                                                    "--mls", "m"])
    assert (args.covost_files, args.covost_max_per_speaker) == (62_000, 8)
    assert (args.voxpopuli_files, args.voxpopuli_max_per_speaker) == (65_000, 250)
    assert args.mls_files == 107_000 and not hasattr(args, "mls_max_per_speaker")
    assert subset_data_dir.get_parser().parse_args(["pseudo_st_source", "--out", "o", "--src", "s"]).size == 300_000


def test_pseudo_st_source(prepared, tmp_path):
    out = tmp_path / "ps"
    assert _run(subset_data_dir.main, ["pseudo_st_source", "--out", str(out), "--src",
                                       str(prepared / "spgispeech_train"), "--size", "2", "--seed", "1"]) == 0
    facts = json.loads((out / "corpus.json").read_text())
    assert facts["utterances"] == 2 and facts["subset"] == "pseudo_st_source" and facts["seed"] == 1
    assert facts["rules"] == [{"name": "sample_to_size", "params": {"group": "source", "size": 2, "seed": 1},
                               "kept": 2, "removed": 1}]
    src_text = dict(line.split(" ", 1) for line in (prepared / "spgispeech_train" / "text").read_text().splitlines())
    for line in (out / "text").read_text().splitlines():
        utt, text = line.split(" ", 1)
        assert src_text[utt] == text
    assert validate_data_dir(str(out)).ok


def test_rules_subcommand_is_the_cv_it_rules(prepared, tmp_path):
    out = tmp_path / "it"
    assert _run(subset_data_dir.main, ["rules", "--out", str(out), "--src", str(prepared / "commonvoice_en_train"),
                                       "--min_seconds", "3", "--max_speakers_per_text", "4", "--name", "cv_it"]) == 0
    facts = json.loads((out / "corpus.json").read_text())
    assert [(r["name"], r["kept"], r["removed"]) for r in facts["rules"]] == [
        ("min_duration", 6, 1), ("max_speakers_per_text", 5, 1)]


def test_read_back_keeps_segments_and_translations(tmp_path):
    utts = [Utterance("s-1", "s", "/r.opus", "one", recording_id="r", start=0.5, end=1.25, translations={"de": "eins"}),
            Utterance("s-2", "s", "/r.opus", "two", recording_id="r", start=2.0, end=3.0, translations={"de": "zwei"})]
    write_speech_dir(tmp_path / "a", utts, {"corpus": "toy"}, tgt_langs=["de"])
    speech = read_speech_dir(tmp_path / "a")
    assert speech.tgt_langs == ["de"] and speech.utterances[0].translations == {"de": "eins"}
    write_speech_dir(tmp_path / "b", speech.utterances, {"corpus": "toy"}, tgt_langs=["de"])
    for name in ("segments", "wav.scp", "text", "text.tc.de", "utt2dur"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_subset_errors_are_clear(prepared, tmp_path, caplog):
    assert _run(subset_data_dir.main, ["pseudo_st_source", "--out", str(tmp_path / "o"),
                                       "--src", str(tmp_path / "nowhere")]) == 1
    assert "nowhere: not a prepared corpus dir (no corpus.json)" in caplog.text
    fr = tmp_path / "fr"
    write_speech_dir(fr, [Utterance("s-1", "s", "/a.wav", "bonjour", duration=1.0)], {"corpus": "toy"}, src_lang="fr")
    assert _run(subset_data_dir.main, ["rules", "--out", str(tmp_path / "o"), "--src", str(fr),
                                       str(prepared / "spgispeech_train")]) == 1
    assert "source dirs have different source languages ['en', 'fr']" in caplog.text
