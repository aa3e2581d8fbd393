"""Common Voice 18.0, English, as distributed by Mozilla (``cv-corpus-18.0-<date>/en/``).

Layout: ``{train,dev,test,validated,...}.tsv`` (tab-separated, header ``client_id path
sentence_id sentence sentence_domain up_votes down_votes age gender accents variant locale
segment``; only ``client_id path sentence`` are needed), ``clips/<path>`` (mp3; ``path`` carries
the ``.mp3`` suffix) and ``clip_durations.tsv`` (``clip duration[ms]``), whose durations are used
(the mp3 header when a clip is not listed). The client id is the speaker. The paper's IT ASR
set (appendix A.1: at least 3 s per sample, at most 4 speakers per transcript) is written as
``commonvoice_en_<split>_it``. Layout facts as in lhotse's ``commonvoice`` recipe.
"""

from __future__ import annotations

import argparse
import glob
import os
from typing import Dict, List, Tuple

from espnet_spire.corpora.datadir import Utterance, speaker_prefixed, write_speech_dir
from espnet_spire.corpora.manifests import ManifestUtterances, read_table
from espnet_spire.corpora.registry import CORPORA, Corpus, Prepared
from espnet_spire.corpora.rules import CV_MAX_SPEAKERS_PER_TEXT, CV_MIN_SECONDS, max_speakers_per_text, min_duration

SPLITS = ("train", "dev", "test", "validated")
COLUMNS = ("client_id", "path", "sentence")


def find_lang_dir(corpus_dir: str, lang: str = "en") -> str:
    """``<corpus_dir>`` itself, ``<corpus_dir>/<lang>`` or ``<corpus_dir>/cv-corpus-*/<lang>`` (one release)."""
    for candidate in (corpus_dir, os.path.join(corpus_dir, lang)):
        if any(os.path.exists(os.path.join(candidate, name)) for name in ("clip_durations.tsv", "clips")):
            return candidate
    found = sorted(glob.glob(os.path.join(corpus_dir, "cv-corpus-*", lang)))
    if len(found) != 1:
        raise FileNotFoundError(f"Common Voice {lang} dir not found under {corpus_dir} (expected clips/ in it, "
                                f"or one cv-corpus-*/{lang}/; found {found})")
    return found[0]


def clip_seconds(lang_dir: str) -> Dict[str, float]:
    """``{clip file name: seconds}`` from ``clip_durations.tsv`` (empty when the release has none)."""
    path = os.path.join(lang_dir, "clip_durations.tsv")
    if not os.path.isfile(path):
        return {}
    return {row["clip"]: int(row["duration[ms]"]) / 1000 for row in read_table(path, "\t", ("clip", "duration[ms]"))}


def read_split(lang_dir: str, split: str, durations: Dict[str, float]) -> Tuple[List[Utterance], List[Tuple[str, str]]]:
    """The utterances of ``<split>.tsv``; rows without a clip are listed as skipped."""
    found = ManifestUtterances()
    for row in read_table(os.path.join(lang_dir, f"{split}.tsv"), "\t", COLUMNS):
        clip = row["path"] if os.path.splitext(row["path"])[1] else row["path"] + ".mp3"
        speaker = row["client_id"]
        utt_id = speaker_prefixed(speaker, os.path.splitext(clip)[0])
        mp3 = os.path.abspath(os.path.join(lang_dir, "clips", clip))
        found.add(utt_id, speaker, mp3, row["sentence"], durations.get(clip))
    return found.result()


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--splits", nargs="+", default=["train", "dev", "test"], choices=SPLITS)
    parser.add_argument("--it_split", default="train", help="split whose IT ASR copy (<dir>_it) is written; "
                                                            "'none': no copy")
    parser.add_argument("--min_seconds", type=float, default=CV_MIN_SECONDS)
    parser.add_argument("--max_speakers_per_text", type=int, default=CV_MAX_SPEAKERS_PER_TEXT)


def prepare(args: argparse.Namespace) -> Prepared:
    lang_dir = find_lang_dir(args.corpus_dir)
    durations = clip_seconds(lang_dir)
    release = os.path.basename(os.path.dirname(os.path.abspath(lang_dir)))
    prepared: Prepared = {}
    for split in args.splits:
        utts, skipped = read_split(lang_dir, split, durations)
        facts = {"corpus": "commonvoice", "split": split, "release": release}
        out = os.path.join(args.data_root, f"commonvoice_en_{split}")
        prepared[out] = write_speech_dir(out, utts, facts, skipped=skipped)
        if split == args.it_split:
            long_enough, by_length = min_duration(utts, args.min_seconds)
            kept, by_speakers = max_speakers_per_text(long_enough, args.max_speakers_per_text, args.seed)
            prepared[out + "_it"] = write_speech_dir(out + "_it", kept, facts, rules=[by_length, by_speakers],
                                                     skipped=skipped)
    return prepared


CORPORA.register("commonvoice")(Corpus(
    name="commonvoice",
    layout="Common Voice 18.0 English, mp3. --corpus_dir is cv-corpus-18.0-<date>/en (or a dir above it); reads "
           "<split>.tsv (client_id, path, sentence, ...), clips/<path> (mp3) and clip_durations.tsv.",
    add_arguments=_add_arguments,
    prepare=prepare,
))
