"""The paper's data rules (SPIRE §3.1, §3.3.1, appendix A.1), each with the paper's numbers as defaults.

Every rule takes a sequence of :class:`~espnet_spire.corpora.datadir.Utterance` records and
returns the kept ones, in their input order, with a :class:`RuleReport` for ``corpus.json``.
Sampling rules draw from ``random.Random(seed)`` over the records in utterance-id order, so the
same inputs and seed keep the same utterances whatever order a manifest lists them in.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from dataclasses import replace
from typing import Dict, List, Optional, Sequence, Set, Tuple

from espnet_spire.common.kaldi_dir import sort_key
from espnet_spire.corpora.datadir import RuleReport, Utterance

Kept = Tuple[List[Utterance], RuleReport]

# paper appendix A.1
MLS_MAX_PER_SPEAKER = 13
CV_MIN_SECONDS = 3.0
CV_MAX_SPEAKERS_PER_TEXT = 4
# paper §3.1: the k-means training subset (files per corpus, cap per speaker)
KMEANS_COVOST_FILES, KMEANS_COVOST_MAX_PER_SPEAKER = 62_000, 8
KMEANS_VOXPOPULI_FILES, KMEANS_VOXPOPULI_MAX_PER_SPEAKER = 65_000, 250
KMEANS_MLS_FILES = 107_000
# paper §3.3.1: ASR examples per corpus (CV, SPGI, GigaSpeech) to translate for pseudo-labelled ST
PSEUDO_ST_SOURCE_SIZE = 300_000

GIGASPEECH_PUNCTUATION = {"<COMMA>": ",", "<PERIOD>": ".", "<QUESTIONMARK>": "?", "<EXCLAMATIONPOINT>": "!"}
GIGASPEECH_GARBAGE = frozenset({"<SIL>", "<MUSIC>", "<NOISE>", "<OTHER>"})
_SPACE_BEFORE_PUNCT = re.compile(r" +([,.?!])")


def _report(name: str, params: Dict[str, object], kept: int, total: int) -> RuleReport:
    return RuleReport(name, params, kept=kept, removed=total - kept)


def _in_id_order(items: Sequence[Utterance]) -> List[Utterance]:
    return sorted(items, key=lambda u: sort_key(u.utt_id))


def _keep_in_input_order(items: Sequence[Utterance], keep: Set[str]) -> List[Utterance]:
    return [u for u in items if u.utt_id in keep]


def gigaspeech_text(text: str) -> str:
    """GigaSpeech ``text_tn`` -> the paper's form: lower case, punctuation tags as marks, garbage tags out.

    A mark is attached to the word before it (``HELLO <COMMA> WORLD`` -> ``hello, world``); a text
    of garbage tags only becomes ``""``.
    """
    words = []
    for token in text.split():
        if token in GIGASPEECH_GARBAGE:
            continue
        words.append(GIGASPEECH_PUNCTUATION.get(token, token.lower()))
    line = _SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(words))
    return "" if all(w in GIGASPEECH_PUNCTUATION.values() for w in line.split()) else line


def normalize_gigaspeech(items: Sequence[Utterance]) -> Tuple[List[Utterance], RuleReport, List[Tuple[str, str]]]:
    """Apply :func:`gigaspeech_text` to every transcript; an emptied one is removed and listed."""
    kept, skipped = [], []
    for utt in items:
        text = gigaspeech_text(utt.text)
        if text:
            kept.append(replace(utt, text=text))
        else:
            skipped.append((utt.utt_id, "gigaspeech_no_words"))
    report = _report("gigaspeech_text", {"lowercase": True, "punctuation": GIGASPEECH_PUNCTUATION,
                                         "dropped_tags": sorted(GIGASPEECH_GARBAGE)}, len(kept), len(items))
    return kept, report, skipped


def cap_per_speaker(items: Sequence[Utterance], max_per_speaker: int, seed: int = 0) -> Kept:
    """At most ``max_per_speaker`` utterances per speaker, sampled uniformly (seeded) within each speaker."""
    if max_per_speaker < 1:
        raise ValueError(f"max_per_speaker must be at least 1, got {max_per_speaker}")
    rng = random.Random(seed)
    by_speaker: Dict[str, List[str]] = defaultdict(list)
    for utt in _in_id_order(items):
        by_speaker[utt.speaker].append(utt.utt_id)
    keep: Set[str] = set()
    for speaker in sorted(by_speaker, key=sort_key):
        ids = by_speaker[speaker]
        keep.update(ids if len(ids) <= max_per_speaker else rng.sample(ids, max_per_speaker))
    kept = _keep_in_input_order(items, keep)
    return kept, _report("cap_per_speaker", {"max_per_speaker": max_per_speaker, "seed": seed}, len(kept), len(items))


def sample_to_size(items: Sequence[Utterance], size: int, seed: int = 0) -> Kept:
    """A uniform sample (seeded) of ``size`` utterances; all of them when there are no more."""
    if size < 0:
        raise ValueError(f"size must not be negative, got {size}")
    ordered = _in_id_order(items)
    chosen = ordered if len(ordered) <= size else random.Random(seed).sample(ordered, size)
    kept = _keep_in_input_order(items, {u.utt_id for u in chosen})
    return kept, _report("sample_to_size", {"size": size, "seed": seed}, len(kept), len(items))


def min_duration(items: Sequence[Utterance], seconds: float = CV_MIN_SECONDS) -> Kept:
    """Utterances of at least ``seconds``; one of unknown duration is an error (the rule needs durations)."""
    unknown = [u.utt_id for u in items if _seconds(u) is None]
    if unknown:
        raise ValueError(f"min_duration needs durations; {len(unknown)} utterance(s) have none, e.g. {unknown[0]}")
    kept = [u for u in items if _seconds(u) >= seconds]
    return kept, _report("min_duration", {"seconds": seconds}, len(kept), len(items))


def max_speakers_per_text(items: Sequence[Utterance], max_speakers: int = CV_MAX_SPEAKERS_PER_TEXT,
                          seed: int = 0) -> Kept:
    """Each transcript read by at most ``max_speakers`` unique speakers (seeded choice of speakers).

    Transcripts are compared case-insensitively with blanks collapsed; every utterance of a
    chosen speaker for that transcript is kept.
    """
    if max_speakers < 1:
        raise ValueError(f"max_speakers must be at least 1, got {max_speakers}")
    rng = random.Random(seed)
    speakers: Dict[str, Set[str]] = defaultdict(set)
    for utt in items:
        speakers[_text_key(utt.text)].add(utt.speaker)
    allowed: Dict[str, Set[str]] = {}
    for text in sorted(speakers, key=sort_key):
        spks = sorted(speakers[text], key=sort_key)
        allowed[text] = set(spks if len(spks) <= max_speakers else rng.sample(spks, max_speakers))
    kept = [u for u in items if u.speaker in allowed[_text_key(u.text)]]
    return kept, _report("max_speakers_per_text", {"max_speakers": max_speakers, "seed": seed},
                         len(kept), len(items))


def _text_key(text: str) -> str:
    return " ".join(text.lower().split())


def _seconds(utt: Utterance) -> Optional[float]:
    if utt.duration is not None:
        return utt.duration
    if utt.start is not None and utt.end is not None:
        return utt.end - utt.start
    return None
