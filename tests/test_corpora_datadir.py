"""The one data-dir writer of corpus preparation: files, sorting, skipped list, facts."""

import json

import pytest

from espnet_spire.corpora.datadir import RuleReport, Utterance, speaker_prefixed, write_speech_dir, write_text_dir
from espnet_spire.data.validate import validate_data_dir


def _read(path):
    return path.read_text(encoding="utf-8").splitlines()


def test_speech_dir_with_segments_translations_and_skips(tmp_path):
    rec = "/corpus/a.flac"
    utts = [
        Utterance("spkB-2", "spkB", rec, "second  one", recording_id="rec1", start=1.0, end=2.5,
                  translations={"de": "zweite"}),
        Utterance("spkA-1", "spkA", rec, "first\tone", recording_id="rec1", start=0.0, end=1.0,
                  translations={"de": "erste"}),
        Utterance("spkA-3", "spkA", rec, "   ", recording_id="rec1", start=3.0, end=4.0, translations={"de": "x"}),
        Utterance("spkA-4", "spkA", rec, "no german", recording_id="rec1", start=4.0, end=5.0),
        Utterance("X-5", "spkA", rec, "bad id", recording_id="rec1", start=5.0, end=6.0, translations={"de": "y"}),
    ]
    rules = [RuleReport("max_per_speaker", {"max": 13}, kept=5, removed=1)]
    record = write_speech_dir(tmp_path / "d", utts, {"corpus": "toy", "split": "test"}, tgt_langs=["de"],
                              rules=rules, skipped=[("spkC-9", "unreadable_manifest_row")])
    d = tmp_path / "d"
    assert _read(d / "text") == ["spkA-1 first one", "spkB-2 second one"]
    assert _read(d / "text.tc.en") == _read(d / "text")
    assert _read(d / "text.tc.de") == ["spkA-1 erste", "spkB-2 zweite"]
    assert _read(d / "segments") == ["spkA-1 rec1 0.000 1.000", "spkB-2 rec1 1.000 2.500"]
    assert _read(d / "wav.scp") == ["rec1 /corpus/a.flac"]
    assert _read(d / "spk2utt") == ["spkA spkA-1", "spkB spkB-2"]
    assert _read(d / "utt2dur") == ["spkA-1 1.000", "spkB-2 1.500"]
    assert _read(d / "skipped") == ["X-5 id_not_prefixed_by_speaker:spkA", "spkA-3 empty_text",
                                    "spkA-4 no_translation:de", "spkC-9 unreadable_manifest_row"]
    facts = json.loads((d / "corpus.json").read_text())
    assert facts == record
    assert facts["utterances"] == 2 and facts["speakers"] == 2 and facts["hours"] == round(2.5 / 3600, 4)
    assert facts["rules"] == [{"name": "max_per_speaker", "params": {"max": 13}, "kept": 5, "removed": 1}]
    assert facts["skipped"] == {"empty_text": 1, "id_not_prefixed_by_speaker": 1, "no_translation": 1,
                                "unreadable_manifest_row": 1}


def test_speech_dir_passes_the_checker(tmp_path):
    import numpy as np
    import soundfile as sf

    wavs = []
    for i in range(2):
        path = tmp_path / f"u{i}.flac"
        sf.write(path, np.zeros(16000, dtype="float32") + 0.01 * (i + 1), 16000)
        wavs.append(str(path))
    utts = [Utterance(speaker_prefixed("s1", f"u{i}"), "s1", wavs[i], f"word {i}", duration=1.0) for i in range(2)]
    write_speech_dir(tmp_path / "d", utts, {"corpus": "toy"})
    assert not (tmp_path / "d" / "segments").exists()
    result = validate_data_dir(str(tmp_path / "d"))
    assert result.ok, result.errors


def test_unknown_durations_write_no_utt2dur(tmp_path):
    write_speech_dir(tmp_path / "d", [Utterance("s-1", "s", "/a.wav", "hi")], {"corpus": "toy"})
    assert not (tmp_path / "d" / "utt2dur").exists()
    assert json.loads((tmp_path / "d" / "corpus.json").read_text())["hours"] is None


def test_nothing_usable_fails_with_the_count(tmp_path):
    with pytest.raises(ValueError, match=r"no usable utterance \(1 skipped"):
        write_speech_dir(tmp_path / "d", [Utterance("s-1", "s", "/a.wav", " ")], {"corpus": "toy"})


def test_two_sources_for_one_recording_fail(tmp_path):
    utts = [Utterance("s-1", "s", "/a.wav", "x", recording_id="r", start=0, end=1),
            Utterance("s-2", "s", "/b.wav", "y", recording_id="r", start=1, end=2)]
    with pytest.raises(ValueError, match="recording 'r' has two audio sources"):
        write_speech_dir(tmp_path / "d", utts, {"corpus": "toy"})


def test_text_dir_aligned_by_id(tmp_path):
    rows = [("2", {"en": "b", "de": "B"}), ("1", {"en": "a", "de": "A"}), ("3", {"en": "c", "de": ""}),
            ("1", {"en": "dup", "de": "dup"})]
    record = write_text_dir(tmp_path / "t", rows, ["en", "de"], {"corpus": "flores200", "split": "devtest"})
    assert _read(tmp_path / "t" / "text.tc.en") == ["1 a", "2 b"]
    assert _read(tmp_path / "t" / "text.tc.de") == ["1 A", "2 B"]
    assert _read(tmp_path / "t" / "skipped") == ["1 duplicate_id", "3 empty_text:de"]
    assert record["utterances"] == 2 and record["langs"] == ["en", "de"]


def test_speaker_prefix_needs_a_separator():
    assert speaker_prefixed("1089", "1089-134686-0000") == "1089-134686-0000"
    assert speaker_prefixed("4800", "4800_10003_000000") == "4800_10003_000000"
    assert speaker_prefixed("2", "20200202-0900-PLENARY") == "2-20200202-0900-PLENARY"
