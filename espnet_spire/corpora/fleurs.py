"""FLEURS: English speech (``en_us``) with the FLORES sentences of nine languages as references.

Layout read (google/fleurs as released on the Hugging Face Hub, its ``data/`` dir = ``--corpus_dir``):

* ``<lang>/{train,dev,test}.tsv``: no header, seven tab-separated columns: FLORES sentence
  ``id``, file name, raw transcription (cased, punctuated: the FLORES sentence as read),
  normalised transcription, phoneme/character string, number of samples, gender;
* ``<lang>/audio/{train,dev,test}/*.wav`` (16 kHz): the extracted form of the released
  ``<lang>/audio/{train,dev,test}.tar.gz`` (``tar -xzf train.tar.gz`` inside ``audio/``).

Only ``en_us`` audio is read. The English text is the raw transcription. References come from
the target languages' TSVs matched by the FLORES ``id``; several recordings share an id, and
their raw transcriptions are the same FLORES sentence, so the reference is the raw transcription
of the first row with that id in the target's TSV of the same split (then train, dev, test).
FLEURS has no speaker ids: each recording is its own speaker.

Paper rule (SPIRE §3.1): training examples whose English sentence is in the FLORES-200 devtest
(``--flores_devtest``, the release's ``flores200_dataset/devtest`` dir or its ``eng_Latn.devtest``)
are removed (:func:`remove_flores_devtest_overlap`); the test split is the ASR/ST test set.
Output: ``fleurs_en_<split>`` (ASR) and ``fleurs_en_<xx>_<split>`` per target language.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import unicodedata
from dataclasses import replace
from typing import Dict, Iterable, List, Sequence, Set, Tuple

from espnet_spire.corpora.datadir import RuleReport, Utterance, write_speech_dir
from espnet_spire.corpora.registry import CORPORA, Corpus, Prepared
from espnet_spire.corpora.tsv import ManifestError, iter_tsv

logger = logging.getLogger(__name__)

NAME = "fleurs"
SPLITS = ("train", "dev", "test")
SOURCE = "en_us"
SAMPLE_RATE = 16000
COLUMNS = ("id", "file_name", "raw_transcription", "transcription", "phonemes", "num_samples", "gender")
# our language code -> FLEURS's directory (the paper's nine target languages)
FLEURS_LANGS = {"de": "de_de", "fr": "fr_fr", "es": "es_419", "it": "it_it", "pt": "pt_br", "nl": "nl_nl",
                "ru": "ru_ru", "zh": "cmn_hans_cn", "ko": "ko_kr"}
FLORES_ENGLISH = "eng_Latn.devtest"
OVERLAP_RULE = "fleurs_flores_devtest_overlap"


def normalise_sentence(text: str) -> str:
    """The form two sentences are compared in: NFKC, case-folded, punctuation dropped, spaces collapsed.

    FLEURS raw transcriptions are FLORES sentences as read, with small edits of spacing, case and
    punctuation, so an exact match of this form finds them without matching different sentences.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text)
    return re.sub(r"\s+", " ", text).strip()


def read_flores_devtest(path: str) -> Set[str]:
    """Normalised English FLORES-200 devtest sentences (``path``: the devtest dir or the file)."""
    file = os.path.join(path, FLORES_ENGLISH) if os.path.isdir(path) else path
    if not os.path.isfile(file):
        raise ManifestError(f"FLORES-200 English devtest not found: {file} (--flores_devtest is "
                            f"flores200_dataset/devtest or its {FLORES_ENGLISH})")
    with open(file, encoding="utf-8") as f:
        return {normalise_sentence(line) for line in f if line.strip()}


def remove_flores_devtest_overlap(utterances: Iterable[Utterance], devtest: Set[str],
                                  skipped: List[Tuple[str, str]]) -> Tuple[List[Utterance], RuleReport]:
    """Drop utterances whose normalised transcript is a FLORES devtest sentence (listed in ``skipped``)."""
    kept: List[Utterance] = []
    for utt in utterances:
        if normalise_sentence(utt.text) in devtest:
            skipped.append((utt.utt_id, OVERLAP_RULE))
        else:
            kept.append(utt)
    removed = sum(1 for _, reason in skipped if reason == OVERLAP_RULE)
    report = RuleReport(OVERLAP_RULE, {"match": "normalised_exact", "devtest_sentences": len(devtest)},
                        kept=len(kept), removed=removed)
    return kept, report


def read_rows(corpus_dir: str, lang_dir: str, split: str) -> List[Dict[str, str]]:
    """The rows of ``<lang_dir>/<split>.tsv``, in file order."""
    return [row for _, row in iter_tsv(os.path.join(corpus_dir, lang_dir, f"{split}.tsv"), columns=COLUMNS)]


def references(corpus_dir: str, lang_dir: str, split: str) -> Dict[str, str]:
    """FLORES id -> reference sentence in one language: the same split first, then the others."""
    refs: Dict[str, str] = {}
    for other in (split, *[s for s in SPLITS if s != split]):
        if not os.path.isfile(os.path.join(corpus_dir, lang_dir, f"{other}.tsv")):
            continue
        for row in read_rows(corpus_dir, lang_dir, other):
            refs.setdefault(row["id"], row["raw_transcription"])
    if not refs:
        raise ManifestError(f"FLEURS {lang_dir}: no {{train,dev,test}}.tsv in {os.path.join(corpus_dir, lang_dir)}")
    return refs


def audio_dir(corpus_dir: str, split: str) -> str:
    """The extracted audio of one English split; a clear message when only the archive is there."""
    path = os.path.join(corpus_dir, SOURCE, "audio", split)
    if not os.path.isdir(path):
        archive = f"{path}.tar.gz"
        hint = (f"extract it first: tar -xzf {archive} -C {os.path.dirname(path)}" if os.path.isfile(archive)
                else "expected the google/fleurs data/ dir as --corpus_dir")
        raise ManifestError(f"FLEURS audio dir not found: {path} ({hint})")
    return path


def english_utterances(corpus_dir: str, split: str,
                       skipped: List[Tuple[str, str]]) -> Tuple[List[Utterance], Dict[str, str]]:
    """The ``en_us`` recordings of one split and their FLORES ids (missing wav files go to ``skipped``)."""
    wav_dir = audio_dir(corpus_dir, split)
    utts = []
    flores_ids: Dict[str, str] = {}
    for row in read_rows(corpus_dir, SOURCE, split):
        stem = os.path.splitext(row["file_name"])[0]
        utt_id = f"{row['id']}_{stem}"
        path = os.path.join(wav_dir, row["file_name"])
        if not os.path.isfile(path):
            skipped.append((utt_id, "missing_audio"))
            continue
        flores_ids[utt_id] = row["id"]
        utts.append(Utterance(utt_id, utt_id, path, row["raw_transcription"],
                              duration=int(row["num_samples"]) / SAMPLE_RATE))
    return utts, flores_ids


def with_references(utts: Sequence[Utterance], flores_ids: Dict[str, str], lang: str,
                    refs: Dict[str, str]) -> List[Utterance]:
    """The utterances with their ``lang`` reference (none when the id is not in that language)."""
    out = []
    for utt in utts:
        ref = refs.get(flores_ids[utt.utt_id])
        out.append(replace(utt, translations={lang: ref} if ref else {}))
    return out


def prepare(args: argparse.Namespace) -> Prepared:
    """Write ``fleurs_en_<split>`` and ``fleurs_en_<xx>_<split>`` for the splits and languages asked for."""
    unknown = [lang for lang in args.tgt_langs if lang not in FLEURS_LANGS]
    if unknown:
        raise ValueError(f"FLEURS target language(s) {unknown} not known; choose from {sorted(FLEURS_LANGS)}")
    if "train" in args.splits and not args.flores_devtest:
        raise ValueError("FLEURS train needs --flores_devtest (the paper removes training sentences that are "
                         "in the FLORES-200 devtest); give flores200_dataset/devtest")
    prepared: Prepared = {}
    for split in args.splits:
        skipped: List[Tuple[str, str]] = []
        utts, flores_ids = english_utterances(args.corpus_dir, split, skipped)
        rules: List[RuleReport] = []
        if split == "train":
            utts, report = remove_flores_devtest_overlap(utts, read_flores_devtest(args.flores_devtest), skipped)
            rules.append(report)
        facts = {"corpus": NAME, "split": split, "source": f"fleurs/{SOURCE}"}
        out = os.path.join(args.data_root, f"{NAME}_en_{split}")
        prepared[out] = write_speech_dir(out, utts, facts, rules=rules, skipped=skipped)
        for lang in args.tgt_langs:
            refs = references(args.corpus_dir, FLEURS_LANGS[lang], split)
            out = os.path.join(args.data_root, f"{NAME}_en_{lang}_{split}")
            pair_facts = {**facts, "pair": f"en-{lang}", "references": f"fleurs/{FLEURS_LANGS[lang]}"}
            prepared[out] = write_speech_dir(out, with_references(utts, flores_ids, lang, refs), pair_facts,
                                             tgt_langs=[lang], rules=rules, skipped=skipped)
    return prepared


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tgt_langs", nargs="+", default=list(FLEURS_LANGS),
                        help="target languages (our codes; default: the paper's nine)")
    parser.add_argument("--splits", nargs="+", default=list(SPLITS), choices=SPLITS)
    parser.add_argument("--flores_devtest", default=None,
                        help="FLORES-200 flores200_dataset/devtest dir (or eng_Latn.devtest); needed for train")


CORPORA.register(NAME)(Corpus(
    name=NAME,
    layout=("FLEURS English speech with nine languages' references. "
            "Layout (google/fleurs data/ dir): <lang>/{train,dev,test}.tsv (id, file name, raw transcription, "
            "transcription, phonemes, num samples, gender; no header) and en_us/audio/<split>/*.wav (the "
            "extracted <split>.tar.gz). English audio from en_us, references from the target languages' "
            "TSVs by FLORES id. Train drops FLORES-200 devtest sentences (--flores_devtest). Writes "
            "fleurs_en_<split> and fleurs_en_<xx>_<split>."),
    add_arguments=add_arguments,
    prepare=prepare,
))
