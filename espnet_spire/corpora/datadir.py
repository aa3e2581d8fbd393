"""Write the Kaldi-style data dirs that every corpus preparation produces.

Each corpus module (``espnet_spire.corpora.<corpus>``) knows its corpus's layout and yields
:class:`Utterance` records (or text rows); this module owns what a data dir looks like, so that
every corpus gives the same files: ``wav.scp`` (a path or a ``cmd |`` pipe, so audio is read
lazily by stage 2 and never converted up front), ``segments`` when utterances are cut from longer
recordings, ``text``, ``text.tc.<lang>`` (ESPnet-ST naming; ``text.tc.<src>`` equals ``text``),
``utt2spk``, ``spk2utt``, ``utt2dur`` when durations are known, ``skipped`` (``uttid reason``:
nothing is dropped silently) and ``corpus.json``, the facts of the dir (corpus, split, source dir
name, counts, hours, the data rules applied and what they removed).
"""

from __future__ import annotations

import json
import logging
import os
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from espnet_spire.common.fileio import PathLike, atomic_open, read_json, write_json, write_lines
from espnet_spire.common.kaldi_dir import (
    read_kaldi_dict,
    sort_key,
    utt2spk_to_spk2utt,
    write_kaldi_file,
    write_spk2utt,
)

logger = logging.getLogger(__name__)

FACTS_NAME = "corpus.json"
SKIPPED_NAME = "skipped"


@dataclass(frozen=True)
class Utterance:
    """One utterance of a speech corpus, as its manifest describes it.

    ``audio`` is the ``wav.scp`` value of its recording (a path, or a pipe ending in ``|``).
    With ``recording_id``, ``start`` and ``end`` (seconds) the utterance is a segment of that
    recording; otherwise the recording is the utterance and ``recording_id`` is ``utt_id``.
    ``utt_id`` must start with ``speaker`` (Kaldi's rule, so that sorting by speaker also sorts
    by utterance); :func:`speaker_prefixed` builds such ids.
    """

    utt_id: str
    speaker: str
    audio: str
    text: str
    duration: Optional[float] = None
    recording_id: Optional[str] = None
    start: Optional[float] = None
    end: Optional[float] = None
    translations: Mapping[str, str] = field(default_factory=dict)


@dataclass
class RuleReport:
    """What one data rule did: its name, its parameters, and how many utterances it removed."""

    name: str
    params: Dict[str, object]
    kept: int
    removed: int

    def as_dict(self) -> Dict[str, object]:
        return {"name": self.name, "params": self.params, "kept": self.kept, "removed": self.removed}


def speaker_prefixed(speaker: str, raw_id: str) -> str:
    """``<speaker>-<raw_id>`` unless ``raw_id`` already starts with the speaker id and a ``-`` or ``_``.

    The separator matters: VoxPopuli speaker ``2`` must still prefix the id ``20200202-...``.
    """
    if raw_id == speaker or raw_id.startswith((speaker + "-", speaker + "_")):
        return raw_id
    return f"{speaker}-{raw_id}"


def not_json_reason(error: json.JSONDecodeError) -> str:
    """The ``skipped`` reason of a manifest line that is not JSON (one token, no spaces)."""
    return "not_json:" + error.msg.replace(" ", "_")


def _clean_text(text: str) -> str:
    """One line of text: inner whitespace runs (tabs, newlines) become single spaces."""
    return " ".join(text.split())


def write_speech_dir(
    out_dir: PathLike,
    utterances: Iterable[Utterance],
    facts: Mapping[str, object],
    src_lang: str = "en",
    tgt_langs: Sequence[str] = (),
    rules: Sequence[RuleReport] = (),
    skipped: Iterable[Tuple[str, str]] = (),
) -> Dict[str, object]:
    """Write one speech data dir; returns the ``corpus.json`` record.

    Utterances with an empty transcript, a duplicate id, an id not prefixed by its speaker, or a
    missing translation into one of ``tgt_langs`` are left out and listed in ``skipped`` with
    the reason, next to the ``skipped`` pairs the caller found while reading the manifests.
    """
    os.makedirs(out_dir, exist_ok=True)
    skipped_rows: List[Tuple[str, str]] = list(skipped)
    wav: Dict[str, str] = {}
    segments: Dict[str, str] = {}
    text: Dict[str, str] = {}
    utt2spk: Dict[str, str] = {}
    utt2dur: Dict[str, str] = {}
    trans: Dict[str, Dict[str, str]] = defaultdict(dict)
    seconds = 0.0
    known_durations = True
    for utt in utterances:
        line = _clean_text(utt.text)
        reason = None
        if utt.utt_id in text:
            reason = "duplicate_id"
        elif not utt.utt_id.startswith(utt.speaker):
            reason = f"id_not_prefixed_by_speaker:{utt.speaker}"
        elif not line:
            reason = "empty_text"
        else:
            missing = [lang for lang in tgt_langs if not _clean_text(utt.translations.get(lang, ""))]
            if missing:
                reason = "no_translation:" + ",".join(missing)
        if reason:
            skipped_rows.append((utt.utt_id, reason))
            continue
        rec = utt.recording_id or utt.utt_id
        if rec in wav and wav[rec] != utt.audio:
            raise ValueError(f"recording {rec!r} has two audio sources: {wav[rec]!r} and {utt.audio!r}")
        wav[rec] = utt.audio
        if utt.recording_id is not None:
            if utt.start is None or utt.end is None or utt.end <= utt.start:
                skipped_rows.append((utt.utt_id, f"bad_segment:{utt.start}-{utt.end}"))
                continue
            segments[utt.utt_id] = f"{rec} {utt.start:.3f} {utt.end:.3f}"
        text[utt.utt_id] = line
        utt2spk[utt.utt_id] = utt.speaker
        for lang in tgt_langs:
            trans[lang][utt.utt_id] = _clean_text(utt.translations[lang])
        duration = utt.duration
        if duration is None and utt.start is not None and utt.end is not None:
            duration = utt.end - utt.start
        if duration is None:
            known_durations = False
        else:
            utt2dur[utt.utt_id] = f"{duration:.3f}"
            seconds += duration
    if not text:
        raise ValueError(f"{out_dir}: no usable utterance ({len(skipped_rows)} skipped, see the corpus manifests)")
    if segments:
        # recordings no kept segment points at would fail the data-dir check
        used = {v.split(" ", 1)[0] for v in segments.values()}
        wav = {rec: src for rec, src in wav.items() if rec in used}
        write_kaldi_file(os.path.join(out_dir, "segments"), segments)
    write_kaldi_file(os.path.join(out_dir, "wav.scp"), wav)
    write_kaldi_file(os.path.join(out_dir, "text"), text)
    write_kaldi_file(os.path.join(out_dir, f"text.tc.{src_lang}"), text)
    for lang in tgt_langs:
        write_kaldi_file(os.path.join(out_dir, f"text.tc.{lang}"), trans[lang])
    write_kaldi_file(os.path.join(out_dir, "utt2spk"), utt2spk)
    write_spk2utt(os.path.join(out_dir, "spk2utt"), utt2spk_to_spk2utt(utt2spk))
    if known_durations:
        write_kaldi_file(os.path.join(out_dir, "utt2dur"), utt2dur)
    record = _record(facts, rules, skipped_rows, utterances=len(text), speakers=len(set(utt2spk.values())),
                     hours=round(seconds / 3600, 4) if known_durations else None,
                     langs=[src_lang, *tgt_langs])
    _write_skipped_and_facts(out_dir, skipped_rows, record)
    logger.info("%s: %d utterances, %d speakers%s, %d skipped", out_dir, len(text), record["speakers"],
                f", {seconds / 3600:.2f} h" if known_durations else "", len(skipped_rows))
    return record


def write_text_dir(
    out_dir: PathLike,
    rows: Iterable[Tuple[str, Mapping[str, str]]],
    langs: Sequence[str],
    facts: Mapping[str, object],
    rules: Sequence[RuleReport] = (),
    skipped: Iterable[Tuple[str, str]] = (),
    min_langs: Optional[int] = None,
) -> Dict[str, object]:
    """Write a text-only dir: ``text.tc.<lang>`` for every lang, aligned by id (MT data, test sets).

    By default every row needs all ``langs``; a row missing one (or with an empty side) is listed
    in ``skipped``. With ``min_langs`` a row may carry any subset of ``langs`` of at least that
    size (monolingual text: 1; several bilingual corpora in one MT dir: 2), so the language files
    hold different ids; an empty side of a language the row does carry is still skipped.
    """
    os.makedirs(out_dir, exist_ok=True)
    skipped_rows: List[Tuple[str, str]] = list(skipped)
    per_lang: Dict[str, Dict[str, str]] = {lang: {} for lang in langs}
    seen = set()
    for key, texts in rows:
        row_langs = langs if min_langs is None else [lang for lang in langs if lang in texts]
        lines = {lang: _clean_text(texts.get(lang, "")) for lang in row_langs}
        empty = [lang for lang, line in lines.items() if not line]
        if key in seen:
            skipped_rows.append((key, "duplicate_id"))
            continue
        if empty:
            skipped_rows.append((key, "empty_text:" + ",".join(empty)))
            continue
        if min_langs is not None and len(lines) < min_langs:
            skipped_rows.append((key, f"too_few_langs:{len(lines)}<{min_langs}"))
            continue
        seen.add(key)
        for lang, line in lines.items():
            per_lang[lang][key] = line
    if not seen:
        raise ValueError(f"{out_dir}: no usable row ({len(skipped_rows)} skipped)")
    for lang in langs:
        if per_lang[lang] or min_langs is None:
            write_kaldi_file(os.path.join(out_dir, f"text.tc.{lang}"), per_lang[lang])
    written = [lang for lang in langs if per_lang[lang] or min_langs is None]
    counts = {} if min_langs is None else {"lines_per_lang": {lang: len(per_lang[lang]) for lang in written}}
    record = _record(facts, rules, skipped_rows, utterances=len(seen), speakers=None, hours=None, langs=written,
                     **counts)
    _write_skipped_and_facts(out_dir, skipped_rows, record)
    logger.info("%s: %d rows in %s, %d skipped", out_dir, len(seen), " ".join(written), len(skipped_rows))
    return record


def write_jsonl_dir(
    out_dir: PathLike,
    name: str,
    records: Iterable[Mapping[str, object]],
    facts: Mapping[str, object],
    skipped: Iterable[Tuple[str, str]] = (),
) -> Dict[str, object]:
    """Write records as ``<out_dir>/<name>`` (one JSON object a line, in the given order) with the
    same ``skipped`` and ``corpus.json`` as the other dirs (conversation data such as TowerBlocks,
    which stage 10 reads as JSONL rather than as Kaldi files).

    Records are streamed to the file; ``skipped`` is read after them, so a generator that fills
    a list while it yields works.
    """
    os.makedirs(out_dir, exist_ok=True)
    count = 0
    with atomic_open(os.path.join(out_dir, name), "w", newline="\n") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n")
            count += 1
        skipped_rows: List[Tuple[str, str]] = list(skipped)
        if not count:
            raise ValueError(f"{out_dir}: no usable record ({len(skipped_rows)} skipped)")
    record = _record(facts, (), skipped_rows, utterances=count, speakers=None, hours=None, file=name)
    _write_skipped_and_facts(out_dir, skipped_rows, record)
    logger.info("%s: %d records, %d skipped", os.path.join(out_dir, name), count, len(skipped_rows))
    return record


def _record(facts: Mapping[str, object], rules: Sequence[RuleReport], skipped: List[Tuple[str, str]],
            **counts: object) -> Dict[str, object]:
    reasons: Dict[str, int] = defaultdict(int)
    for _, reason in skipped:
        reasons[reason.split(":", 1)[0]] += 1
    return {**facts, **counts, "rules": [r.as_dict() for r in rules], "skipped": dict(sorted(reasons.items()))}


def _write_skipped_and_facts(out_dir: PathLike, skipped: List[Tuple[str, str]], record: Dict[str, object]) -> None:
    rows = sorted(skipped, key=lambda kv: sort_key(kv[0]))
    write_lines(os.path.join(out_dir, SKIPPED_NAME), [f"{key} {reason}" for key, reason in rows])
    write_json(os.path.join(out_dir, FACTS_NAME), record)


@dataclass
class SpeechDir:
    """A prepared speech data dir read back: its utterances, languages and ``corpus.json`` record."""

    utterances: List[Utterance]
    src_lang: str
    tgt_langs: List[str]
    facts: Dict[str, object]


def read_speech_dir(path: PathLike) -> SpeechDir:
    """Read a dir written by :func:`write_speech_dir` back into :class:`Utterance` records.

    So that subsets and combinations of prepared dirs (the k-means set, the pseudo-labelling
    source) go through the same writer. The languages come from ``corpus.json`` (source first);
    every other ``text.tc.<lang>`` file is a translation.
    """
    path = os.fspath(path)
    facts_path = os.path.join(path, FACTS_NAME)
    if not os.path.isfile(facts_path):
        raise FileNotFoundError(f"{path}: not a prepared corpus dir (no {FACTS_NAME})")
    facts = read_json(facts_path)
    langs = list(facts.get("langs") or ["en"])
    src_lang, tgt_langs = langs[0], langs[1:]
    text = read_kaldi_dict(os.path.join(path, "text"))
    utt2spk = read_kaldi_dict(os.path.join(path, "utt2spk"))
    wav = read_kaldi_dict(os.path.join(path, "wav.scp"))
    segments = _read_optional(os.path.join(path, "segments"))
    utt2dur = _read_optional(os.path.join(path, "utt2dur"))
    trans = {lang: read_kaldi_dict(os.path.join(path, f"text.tc.{lang}")) for lang in tgt_langs}
    utts = []
    for utt_id, line in text.items():
        dur = float(utt2dur[utt_id]) if utt_id in utt2dur else None
        common = dict(duration=dur, translations={lang: trans[lang][utt_id] for lang in tgt_langs})
        if utt_id in segments:
            rec, start, end = segments[utt_id].split()
            utts.append(Utterance(utt_id, utt2spk[utt_id], wav[rec], line, recording_id=rec, start=float(start),
                                  end=float(end), **common))
        else:
            utts.append(Utterance(utt_id, utt2spk[utt_id], wav[utt_id], line, **common))
    return SpeechDir(utts, src_lang, tgt_langs, facts)


def _read_optional(path: str) -> Dict[str, str]:
    return read_kaldi_dict(path) if os.path.isfile(path) else {}
