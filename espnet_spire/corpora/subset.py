"""Subsets of prepared speech dirs by the paper's rules: the k-means set and the pseudo-labelling source.

A subset reads prepared dirs back (:func:`~espnet_spire.corpora.datadir.read_speech_dir`),
applies rules of :mod:`espnet_spire.corpora.rules` per source, and writes one dir through the same
writer as the corpora, so it has the same files and a ``corpus.json`` that records the subset's
name, its sources and every rule with its counts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Dict, List, Optional, Sequence

from espnet_spire.common.fileio import PathLike
from espnet_spire.corpora import rules as R
from espnet_spire.corpora.datadir import RuleReport, Utterance, read_speech_dir, write_speech_dir


@dataclass(frozen=True)
class SubsetRules:
    """Rules applied to one source group, in this order; ``None`` leaves a rule out."""

    min_seconds: Optional[float] = None
    max_speakers_per_text: Optional[int] = None
    max_per_speaker: Optional[int] = None
    size: Optional[int] = None


KMEANS_RULES: Dict[str, SubsetRules] = {
    "covost": SubsetRules(max_per_speaker=R.KMEANS_COVOST_MAX_PER_SPEAKER, size=R.KMEANS_COVOST_FILES),
    "voxpopuli": SubsetRules(max_per_speaker=R.KMEANS_VOXPOPULI_MAX_PER_SPEAKER, size=R.KMEANS_VOXPOPULI_FILES),
    "mls": SubsetRules(size=R.KMEANS_MLS_FILES),
}
"""The paper's k-means set (§3.1): 62K CoVoST-2 files (≤ 8 per speaker), 65K VoxPopuli (≤ 250), 107K MLS."""


def apply_rules(utts: Sequence[Utterance], rules: SubsetRules, seed: int) -> tuple:
    """``(kept, [RuleReport, ...])`` after the rules that are set, in :class:`SubsetRules` order."""
    kept: List[Utterance] = list(utts)
    reports: List[RuleReport] = []
    if rules.min_seconds is not None:
        kept, report = R.min_duration(kept, rules.min_seconds)
        reports.append(report)
    if rules.max_speakers_per_text is not None:
        kept, report = R.max_speakers_per_text(kept, rules.max_speakers_per_text, seed)
        reports.append(report)
    if rules.max_per_speaker is not None:
        kept, report = R.cap_per_speaker(kept, rules.max_per_speaker, seed)
        reports.append(report)
    if rules.size is not None:
        kept, report = R.sample_to_size(kept, rules.size, seed)
        reports.append(report)
    return kept, reports


def write_subset(out_dir: PathLike, groups: Dict[str, Sequence[PathLike]], rules: Dict[str, SubsetRules],
                 name: str, seed: int = 0) -> Dict[str, object]:
    """Combine the dirs of each group, apply that group's rules, write all groups as one dir.

    Translations are kept for the target languages every source dir has; all sources must have
    the same source language. Returns the ``corpus.json`` record.
    """
    utts: List[Utterance] = []
    reports: List[RuleReport] = []
    sources = []
    src_langs, tgt_sets = set(), []
    for group, dirs in groups.items():
        if not dirs:
            raise ValueError(f"subset {name!r}: no data dir given for {group!r}")
        group_utts: List[Utterance] = []
        for path in dirs:
            speech = read_speech_dir(path)
            src_langs.add(speech.src_lang)
            tgt_sets.append(set(speech.tgt_langs))
            group_utts.extend(speech.utterances)
            sources.append({"group": group, "dir": os.path.basename(os.path.normpath(path)),
                            "corpus": speech.facts.get("corpus"), "split": speech.facts.get("split"),
                            "utterances": len(speech.utterances)})
        kept, group_reports = apply_rules(group_utts, rules.get(group, SubsetRules()), seed)
        reports.extend(replace(r, params={"group": group, **r.params}) for r in group_reports)
        utts.extend(kept)
    if len(src_langs) != 1:
        raise ValueError(f"subset {name!r}: source dirs have different source languages {sorted(src_langs)}")
    tgt_langs = sorted(set.intersection(*tgt_sets))
    utts = [replace(u, translations={lang: u.translations[lang] for lang in tgt_langs}) for u in utts]
    facts = {"corpus": "subset", "subset": name, "seed": seed, "sources": sources}
    return write_speech_dir(out_dir, utts, facts, src_lang=src_langs.pop(), tgt_langs=tgt_langs, rules=reports)


def kmeans_subset(out_dir: PathLike, covost: Sequence[PathLike], voxpopuli: Sequence[PathLike],
                  mls: Sequence[PathLike], seed: int = 0,
                  rules: Dict[str, SubsetRules] = KMEANS_RULES) -> Dict[str, object]:
    """The paper's k-means training set (§3.1) from prepared CoVoST-2, VoxPopuli and MLS dirs."""
    return write_subset(out_dir, {"covost": covost, "voxpopuli": voxpopuli, "mls": mls}, rules, "kmeans", seed)


def pseudo_st_source(out_dir: PathLike, dirs: Sequence[PathLike], size: int = R.PSEUDO_ST_SOURCE_SIZE,
                     seed: int = 0) -> Dict[str, object]:
    """``size`` transcripts (seeded sample) of one corpus to translate for pseudo-labelled ST (§3.3.1)."""
    return write_subset(out_dir, {"source": dirs}, {"source": SubsetRules(size=size)}, "pseudo_st_source", seed)
