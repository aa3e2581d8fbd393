"""CoVoST-2 English -> X speech translation, on top of the Common Voice English clips.

Layout read (CoVoST 2 release, https://github.com/facebookresearch/covost):

* ``<corpus_dir>/covost_v2.en_<xx>.tsv`` (from ``covost_v2.en_<xx>.tsv.tar.gz``), a TSV with a
  header and the columns ``path`` (the Common Voice clip name), ``translation`` and ``split``
  (``train``, ``train_covost``, ``dev``, ``test``), plus ``sentence`` and ``client_id`` in the
  released files; or the per-split files ``covost_v2.en_<xx>.{train,dev,test}.tsv`` that the
  release's ``get_covost_splits.py`` writes (preferred when present). As that script does,
  ``train`` is ``train`` + ``train_covost``.
* The audio: Common Voice English as distributed, ``<cv_dir>/en/clips/<path>`` (mp3),
  referenced in ``wav.scp`` as is (libsndfile decodes mp3). The transcript (``sentence``) and
  speaker (``client_id``) come from the CoVoST TSV, or from ``<cv_dir>/en/validated.tsv`` when the
  TSV lacks them. Durations come from ``<cv_dir>/en/clip_durations.tsv`` (``clip``,
  ``duration[ms]``, Common Voice 12 and later) or else from the mp3 header.

Target codes are ours (``de``, ``zh``...), mapped to CoVoST's (``zh-CN``, ``sv-SE``). Output: one
speech dir per pair and split, ``<data_root>/covost2_en_<xx>_<split>``, with ``text`` (English)
and ``text.tc.<xx>``; rows whose clip is missing are listed in ``skipped``.
"""

from __future__ import annotations

import argparse
import logging
import os
from typing import Dict, Iterator, List, Optional, Sequence, Set, Tuple

import soundfile as sf

from espnet_spire.corpora.datadir import Utterance, speaker_prefixed, write_speech_dir
from espnet_spire.corpora.registry import CORPORA, Corpus, Prepared
from espnet_spire.corpora.tsv import ManifestError, iter_tsv

logger = logging.getLogger(__name__)

NAME = "covost2"
SPLITS = ("train", "dev", "test")
# our language code -> CoVoST-2's (only where they differ)
COVOST_CODES = {"zh": "zh-CN", "sv": "sv-SE"}
# the released split labels that make up each of our splits
SPLIT_LABELS = {"train": ("train", "train_covost"), "dev": ("dev",), "test": ("test",)}


def covost_code(lang: str) -> str:
    """CoVoST-2's name of a target language (``zh`` -> ``zh-CN``)."""
    return COVOST_CODES.get(lang, lang)


def find_pair_rows(corpus_dir: str, tgt: str, split: str) -> Iterator[Dict[str, str]]:
    """The rows of one pair and split: from the per-split TSV if present, else from the release TSV."""
    stem = os.path.join(corpus_dir, f"covost_v2.en_{covost_code(tgt)}")
    per_split = f"{stem}.{split}.tsv"
    path = per_split if os.path.isfile(per_split) else f"{stem}.tsv"
    if not os.path.isfile(path):
        raise ManifestError(f"CoVoST-2 en->{tgt}: neither {stem}.tsv nor {per_split} found "
                            f"(extract covost_v2.en_{covost_code(tgt)}.tsv.tar.gz into --corpus_dir)")
    labels = SPLIT_LABELS[split]
    for _, row in iter_tsv(path, required=("path", "translation", "split")):
        if row["split"] in labels:
            yield row


def read_cv_validated(cv_en: str, wanted: Set[str]) -> Dict[str, Tuple[str, str]]:
    """clip -> (sentence, client_id) from Common Voice's ``validated.tsv``, for the ``wanted`` clips only."""
    path = os.path.join(cv_en, "validated.tsv")
    return {row["path"]: (row["sentence"], row["client_id"])
            for _, row in iter_tsv(path, required=("client_id", "path", "sentence")) if row["path"] in wanted}


def read_clip_durations(cv_en: str) -> Optional[Dict[str, float]]:
    """clip -> seconds from ``clip_durations.tsv`` (Common Voice >= 12), or None when absent."""
    path = os.path.join(cv_en, "clip_durations.tsv")
    if not os.path.isfile(path):
        return None
    return {row["clip"]: int(row["duration[ms]"]) / 1000
            for _, row in iter_tsv(path, required=("clip", "duration[ms]"))}


class ClipInfo:
    """Transcripts, speakers and durations of Common Voice clips, read once for all pairs."""

    def __init__(self, cv_dir: str) -> None:
        self.cv_en = os.path.join(cv_dir, "en")
        if not os.path.isdir(os.path.join(self.cv_en, "clips")):
            raise ManifestError(f"Common Voice English clips not found: {self.cv_en}/clips (--cv_dir is the "
                                f"root of a Common Voice release, the dir holding en/)")
        self._validated: Dict[str, Tuple[str, str]] = {}
        self._durations = read_clip_durations(self.cv_en)

    def path(self, clip: str) -> str:
        return os.path.join(self.cv_en, "clips", clip)

    def look_up(self, rows: Sequence[Dict[str, str]]) -> None:
        """Read ``validated.tsv`` once for the rows whose TSV lacks ``sentence``/``client_id``."""
        wanted = {r["path"] for r in rows if not ("sentence" in r and "client_id" in r)} - set(self._validated)
        if wanted:
            self._validated.update(read_cv_validated(self.cv_en, wanted))

    def sentence_and_speaker(self, row: Dict[str, str]) -> Optional[Tuple[str, str]]:
        """From the CoVoST row when it has them, else from Common Voice (after :meth:`look_up`)."""
        if "sentence" in row and "client_id" in row:
            return row["sentence"], row["client_id"]
        return self._validated.get(row["path"])

    def duration(self, clip: str) -> float:
        if self._durations is not None and clip in self._durations:
            return self._durations[clip]
        return sf.info(self.path(clip)).duration


def pair_utterances(corpus_dir: str, clips: ClipInfo, tgt: str, split: str,
                    skipped: List[Tuple[str, str]]) -> Iterator[Utterance]:
    """The utterances of one pair and split; unusable rows go to ``skipped``."""
    rows = list(find_pair_rows(corpus_dir, tgt, split))
    clips.look_up(rows)
    for row in rows:
        clip = row["path"]
        stem = os.path.splitext(clip)[0]
        found = clips.sentence_and_speaker(row)
        if found is None:
            skipped.append((stem, "not_in_common_voice_validated"))
            continue
        sentence, client = found
        utt_id = speaker_prefixed(client, stem)
        if not os.path.isfile(clips.path(clip)):
            skipped.append((utt_id, "missing_audio"))
            continue
        yield Utterance(utt_id, client, clips.path(clip), sentence, duration=clips.duration(clip),
                        translations={tgt: row["translation"]})


def prepare(args: argparse.Namespace) -> Prepared:
    """Write ``covost2_en_<xx>_<split>`` for every pair and split asked for."""
    clips = ClipInfo(args.cv_dir)
    prepared: Prepared = {}
    for tgt in args.tgt_langs:
        for split in args.splits:
            out = os.path.join(args.data_root, f"{NAME}_en_{tgt}_{split}")
            skipped: List[Tuple[str, str]] = []
            utts = list(pair_utterances(args.corpus_dir, clips, tgt, split, skipped))
            facts = {"corpus": NAME, "split": split, "pair": f"en-{tgt}",
                     "source": f"covost_v2.en_{covost_code(tgt)}", "audio": "common_voice/en/clips (mp3)"}
            prepared[out] = write_speech_dir(out, utts, facts, src_lang="en", tgt_langs=[tgt], skipped=skipped)
    return prepared


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cv_dir", required=True,
                        help="root of the Common Voice English release (holds en/clips, en/validated.tsv)")
    parser.add_argument("--tgt_langs", nargs="+", default=["de", "zh"],
                        help="target languages (our codes; the paper: de zh)")
    parser.add_argument("--splits", nargs="+", default=list(SPLITS), choices=SPLITS)


CORPORA.register(NAME)(Corpus(
    name=NAME,
    layout=("CoVoST-2 English speech translation on Common Voice clips. "
            "Layout: covost_v2.en_<xx>.tsv (or covost_v2.en_<xx>.{train,dev,test}.tsv) in "
            "--corpus_dir, columns path/sentence/translation/client_id/split; audio from Common Voice "
            "English, <cv_dir>/en/clips/*.mp3 (sentence/client_id from en/validated.tsv when the TSV lacks "
            "them). Writes covost2_en_<xx>_{train,dev,test}."),
    add_arguments=add_arguments,
    prepare=prepare,
))
