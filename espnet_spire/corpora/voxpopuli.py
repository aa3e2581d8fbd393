"""VoxPopuli, English transcribed speech (the ASR release of facebookresearch/voxpopuli).

Layout: ``transcribed_data/en/asr_{train,dev,test}.tsv`` with the header ``id raw_text
normalized_text speaker_id split gender is_gold_transcript accent`` (tab-separated) and the
segments as ``transcribed_data/en/<year>/<id>.ogg`` (year = the first four characters of the id).
The transcript is ``normalized_text`` by default (``--text_column raw_text`` for the cased one);
durations come from the ogg headers. Layout facts as in lhotse's ``voxpopuli`` recipe.
"""

from __future__ import annotations

import argparse
import os
from typing import List, Tuple

from espnet_spire.corpora.datadir import Utterance, speaker_prefixed, write_speech_dir
from espnet_spire.corpora.manifests import ManifestUtterances, read_table, require_dir
from espnet_spire.corpora.registry import CORPORA, Corpus, Prepared

SPLITS = ("train", "dev", "test")
COLUMNS = ("id", "raw_text", "normalized_text", "speaker_id")


def read_split(lang_dir: str, split: str, text_column: str) -> Tuple[List[Utterance], List[Tuple[str, str]]]:
    """The utterances of ``asr_<split>.tsv``; rows without an ogg file are listed as skipped."""
    found = ManifestUtterances()
    for row in read_table(os.path.join(lang_dir, f"asr_{split}.tsv"), "\t", COLUMNS):
        speaker = row["speaker_id"] or "unknown"
        ogg = os.path.abspath(os.path.join(lang_dir, row["id"][:4], f"{row['id']}.ogg"))
        found.add(speaker_prefixed(speaker, row["id"]), speaker, ogg, row[text_column])
    return found.result()


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--splits", nargs="+", default=list(SPLITS), choices=SPLITS)
    parser.add_argument("--text_column", default="normalized_text", choices=["normalized_text", "raw_text"])


def prepare(args: argparse.Namespace) -> Prepared:
    lang_dir = os.path.join(args.corpus_dir, "transcribed_data", "en")
    require_dir(lang_dir, "VoxPopuli English transcribed data")
    prepared: Prepared = {}
    for split in args.splits:
        utts, skipped = read_split(lang_dir, split, args.text_column)
        out = os.path.join(args.data_root, f"voxpopuli_en_{split}")
        facts = {"corpus": "voxpopuli", "split": split, "text_column": args.text_column}
        prepared[out] = write_speech_dir(out, utts, facts, skipped=skipped)
    return prepared


CORPORA.register("voxpopuli")(Corpus(
    name="voxpopuli",
    layout="VoxPopuli English ASR release, ogg. --corpus_dir holds transcribed_data/en/asr_<split>.tsv and "
           "transcribed_data/en/<year>/<id>.ogg.",
    add_arguments=_add_arguments,
    prepare=prepare,
))
