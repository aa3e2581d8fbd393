"""SPGISpeech (Kensho) as distributed.

Layout: ``train.csv`` and ``val.csv`` at the corpus root, ``|``-separated with the header
``wav_filename|wav_filesize|transcript``; ``wav_filename`` is ``<call-id>/<n>.wav`` relative to
``train/`` or ``val/`` (16 kHz mono 16-bit wav). Transcripts keep their case and punctuation (the
paper applies no rule to SPGISpeech). The call id is the speaker; durations come from the wav
headers. Layout facts as in lhotse's ``spgispeech`` recipe and ESPnet's ``egs2/spgispeech``.
"""

from __future__ import annotations

import argparse
import os
from typing import List, Tuple

from espnet_spire.corpora.datadir import Utterance, speaker_prefixed, write_speech_dir
from espnet_spire.corpora.manifests import ManifestUtterances, read_table
from espnet_spire.corpora.registry import CORPORA, Corpus, Prepared

SPLITS = ("train", "val")
COLUMNS = ("wav_filename", "wav_filesize", "transcript")


def read_split(corpus_dir: str, split: str) -> Tuple[List[Utterance], List[Tuple[str, str]]]:
    """The utterances of ``<split>.csv``; rows whose wav is missing or unreadable are listed as skipped."""
    manifest = os.path.join(corpus_dir, f"{split}.csv")
    if not os.path.isfile(manifest):
        raise FileNotFoundError(f"SPGISpeech manifest not found: {manifest}")
    found = ManifestUtterances()
    for row in read_table(manifest, "|", COLUMNS):
        rel = row["wav_filename"]
        call = os.path.dirname(rel) or "unknown"
        utt_id = speaker_prefixed(call, os.path.splitext(os.path.basename(rel))[0])
        found.add(utt_id, call, os.path.abspath(os.path.join(corpus_dir, split, rel)), row["transcript"])
    return found.result()


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--splits", nargs="+", default=list(SPLITS), choices=SPLITS)


def prepare(args: argparse.Namespace) -> Prepared:
    prepared: Prepared = {}
    for split in args.splits:
        utts, skipped = read_split(args.corpus_dir, split)
        out = os.path.join(args.data_root, f"spgispeech_{split}")
        prepared[out] = write_speech_dir(out, utts, {"corpus": "spgispeech", "split": split}, skipped=skipped)
    return prepared


CORPORA.register("spgispeech")(Corpus(
    name="spgispeech",
    layout="SPGISpeech (Kensho), wav. --corpus_dir holds train.csv / val.csv (wav_filename|wav_filesize|transcript) "
           "and the train/<call>/<n>.wav, val/<call>/<n>.wav files.",
    add_arguments=_add_arguments,
    prepare=prepare,
))
