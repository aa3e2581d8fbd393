"""The paper's data rules (appendix A.1, §3.1, §3.3.1): behaviour, reports, and the paper's numbers as defaults."""

import random

import pytest

from espnet_spire.corpora import rules as R
from espnet_spire.corpora.datadir import Utterance
from espnet_spire.corpora.subset import KMEANS_RULES, apply_rules


def _utts(per_speaker, seconds=1.0, text=None):
    return [Utterance(f"{spk}-{i:05d}", spk, f"/a/{spk}-{i}.flac", text or f"words {spk} {i}", duration=seconds)
            for spk, n in per_speaker.items() for i in range(n)]


def test_paper_numbers_are_the_defaults():
    assert R.MLS_MAX_PER_SPEAKER == 13
    assert (R.CV_MIN_SECONDS, R.CV_MAX_SPEAKERS_PER_TEXT) == (3.0, 4)
    assert R.PSEUDO_ST_SOURCE_SIZE == 300_000
    assert {g: (r.max_per_speaker, r.size) for g, r in KMEANS_RULES.items()} == {
        "covost": (8, 62_000), "voxpopuli": (250, 65_000), "mls": (None, 107_000)}
    # about 235K files in all (paper §3.1)
    assert sum(r.size for r in KMEANS_RULES.values()) == 234_000


@pytest.mark.parametrize("text,expected", [
    ("AS THEY'RE LEAVING <COMMA> CAN KASH PULL ZAHRA ASIDE REALLY QUICKLY <QUESTIONMARK>",
     "as they're leaving, can kash pull zahra aside really quickly?"),
    ("<SIL> WHAT A DAY <EXCLAMATIONPOINT> <MUSIC> IT RAINED <PERIOD>", "what a day! it rained."),
    ("<NOISE> <OTHER> <SIL>", ""),
    ("<PERIOD>", ""),
])
def test_gigaspeech_text(text, expected):
    assert R.gigaspeech_text(text) == expected


def test_gigaspeech_emptied_utterances_are_listed():
    utts = [Utterance("a-1", "a", "/a.opus", "HELLO <PERIOD>"), Utterance("a-2", "a", "/a.opus", "<MUSIC>")]
    kept, report, skipped = R.normalize_gigaspeech(utts)
    assert [u.text for u in kept] == ["hello."]
    assert skipped == [("a-2", "gigaspeech_no_words")]
    assert (report.name, report.kept, report.removed) == ("gigaspeech_text", 1, 1)


def test_cap_per_speaker_is_uniform_seeded_and_order_free():
    utts = _utts({"A": 20, "B": 5})
    kept, report = R.cap_per_speaker(utts, R.MLS_MAX_PER_SPEAKER, seed=3)
    assert [u.speaker for u in kept].count("A") == 13 and [u.speaker for u in kept].count("B") == 5
    assert (report.kept, report.removed, report.params) == (18, 7, {"max_per_speaker": 13, "seed": 3})
    assert kept == [u for u in utts if u in kept]  # input order kept
    shuffled = list(utts)
    random.Random(1).shuffle(shuffled)
    assert {u.utt_id for u in R.cap_per_speaker(shuffled, 13, seed=3)[0]} == {u.utt_id for u in kept}
    assert {u.utt_id for u in R.cap_per_speaker(utts, 13, seed=4)[0]} != {u.utt_id for u in kept}
    with pytest.raises(ValueError, match="max_per_speaker must be at least 1, got 0"):
        R.cap_per_speaker(utts, 0)


def test_sample_to_size():
    utts = _utts({"A": 10})
    kept, report = R.sample_to_size(utts, 4, seed=0)
    assert len(kept) == 4 and (report.kept, report.removed) == (4, 6)
    assert R.sample_to_size(utts, 4, seed=0)[0] == kept
    assert R.sample_to_size(utts, 50)[0] == utts
    with pytest.raises(ValueError, match="size must not be negative, got -1"):
        R.sample_to_size(utts, -1)


def test_min_duration_keeps_three_seconds_and_more():
    utts = _utts({"A": 1}, seconds=2.999) + _utts({"B": 1}, seconds=3.0) + _utts({"C": 1}, seconds=7.0)
    kept, report = R.min_duration(utts)
    assert [u.speaker for u in kept] == ["B", "C"] and report.params == {"seconds": 3.0}
    with pytest.raises(ValueError, match="min_duration needs durations; 1 utterance"):
        R.min_duration([Utterance("x-1", "x", "/a.mp3", "hi")])


def test_max_four_speakers_per_transcript():
    same = _utts({s: 1 for s in "ABCDEF"}, text="The same  sentence")
    repeat = [Utterance(f"{s}-99999", s, "/r.mp3", "the same sentence", duration=1.0) for s in "ABCDEF"]
    other = _utts({"G": 2})
    kept, report = R.max_speakers_per_text(same + repeat + other)
    speakers = {u.speaker for u in kept if u.speaker != "G"}
    assert len(speakers) == 4
    # every utterance of a chosen speaker for that transcript stays, other transcripts are untouched
    assert len(kept) == 4 * 2 + 2 and (report.kept, report.removed) == (10, 4)


def test_kmeans_covost_at_paper_scale():
    """10,049 speakers (CoVoST's count in §3.1) with 10 files each -> 62,000 files, at most 8 per speaker."""
    utts = _utts({f"s{i:05d}": 10 for i in range(10_049)})
    kept, reports = apply_rules(utts, KMEANS_RULES["covost"], seed=0)
    assert len(kept) == 62_000
    per_speaker = {}
    for u in kept:
        per_speaker[u.speaker] = per_speaker.get(u.speaker, 0) + 1
    assert max(per_speaker.values()) == 8
    assert [(r.name, r.kept) for r in reports] == [("cap_per_speaker", 80_392), ("sample_to_size", 62_000)]
