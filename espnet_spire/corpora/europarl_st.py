"""Europarl-ST v1.1, English speeches of the European Parliament translated into six languages.

Layout read (Europarl-ST v1.1 as released, https://www.mllp.upv.es/europarl-st/; ``--corpus_dir``
is the ``v1.1`` dir):

* ``en/audios/<speech_id>.m4a``: one AAC recording per speech;
* ``en/<xx>/<split>/segments.lst``: one segment per line, ``<speech_id> <start> <end>``
  (seconds), line-aligned with ``segments.en`` (transcript) and ``segments.<xx>`` (translation);
* ``en/<xx>/<split>/speeches.lst`` and ``speakers.lst`` (line-aligned): the speaker of each
  speech (the id after the last ``_``); without them the speech id is the speaker.

libsndfile cannot decode m4a, so ``wav.scp`` holds an ``ffmpeg ... |`` pipe per speech (16 kHz
mono wav on stdout, read lazily by stage 2) and ``segments`` cuts the utterances from it.
Utterance ids are ``<speaker>-<speech_id>_<start cs>_<end cs>``, so the segments of a speech are
contiguous and stage 2 decodes each speech once. Output: ``europarl_st_en_<xx>_<split>``.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
from typing import Dict, Iterator, List, Tuple

from espnet_spire.corpora.datadir import Utterance, speaker_prefixed, write_speech_dir
from espnet_spire.corpora.registry import CORPORA, Corpus, Prepared
from espnet_spire.corpora.tsv import ManifestError

logger = logging.getLogger(__name__)

NAME = "europarl_st"
SRC = "en"
TGT_LANGS = ("de", "es", "fr", "it", "nl", "pt")
SPLITS = ("train", "dev", "test")


def ffmpeg_pipe(path: str) -> str:
    """The ``wav.scp`` value that decodes one m4a speech to 16 kHz mono wav on stdout."""
    return f"ffmpeg -nostdin -v error -i {shlex.quote(path)} -ac 1 -ar 16000 -f wav - |"


def _read_lines(path: str) -> List[str]:
    if not os.path.isfile(path):
        raise ManifestError(f"Europarl-ST file not found: {path}")
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()


def speech_speakers(split_dir: str) -> Dict[str, str]:
    """speech id -> speaker id from ``speeches.lst``/``speakers.lst``; empty when they are absent."""
    speeches_path = os.path.join(split_dir, "speeches.lst")
    speakers_path = os.path.join(split_dir, "speakers.lst")
    if not (os.path.isfile(speeches_path) and os.path.isfile(speakers_path)):
        return {}
    speeches, speakers = _read_lines(speeches_path), _read_lines(speakers_path)
    if len(speeches) != len(speakers):
        raise ManifestError(f"{split_dir}: speeches.lst has {len(speeches)} lines, speakers.lst {len(speakers)}")
    return {speech.strip(): speaker.strip().rsplit("_", 1)[-1] for speech, speaker in zip(speeches, speakers)}


def pair_utterances(corpus_dir: str, tgt: str, split: str, skipped: List[Tuple[str, str]]) -> Iterator[Utterance]:
    """The segments of one pair and split; segments of a speech with no audio go to ``skipped``."""
    split_dir = os.path.join(corpus_dir, SRC, tgt, split)
    segments = _read_lines(os.path.join(split_dir, "segments.lst"))
    sources = _read_lines(os.path.join(split_dir, f"segments.{SRC}"))
    targets = _read_lines(os.path.join(split_dir, f"segments.{tgt}"))
    if not len(segments) == len(sources) == len(targets):
        raise ManifestError(f"{split_dir}: segments.lst, segments.{SRC} and segments.{tgt} have "
                            f"{len(segments)}, {len(sources)} and {len(targets)} lines (they must be aligned)")
    speakers = speech_speakers(split_dir)
    audio_root = os.path.join(corpus_dir, SRC, "audios")
    for lineno, (segment, source, target) in enumerate(zip(segments, sources, targets), start=1):
        fields = segment.split()
        if len(fields) != 3:
            raise ManifestError(f"{split_dir}/segments.lst:{lineno}: expected '<speech_id> <start> <end>'")
        speech, start, end = fields[0], float(fields[1]), float(fields[2])
        speaker = speakers.get(speech, speech)
        utt_id = speaker_prefixed(speaker, f"{speech}_{round(start * 100):07d}_{round(end * 100):07d}")
        audio = os.path.join(audio_root, f"{speech}.m4a")
        if not os.path.isfile(audio):
            skipped.append((utt_id, "missing_audio"))
            continue
        yield Utterance(utt_id, speaker, ffmpeg_pipe(audio), source, recording_id=speech, start=start, end=end,
                        translations={tgt: target})


def prepare(args: argparse.Namespace) -> Prepared:
    """Write ``europarl_st_en_<xx>_<split>`` for every pair and split asked for."""
    prepared: Prepared = {}
    for tgt in args.tgt_langs:
        for split in args.splits:
            out = os.path.join(args.data_root, f"{NAME}_{SRC}_{tgt}_{split}")
            skipped: List[Tuple[str, str]] = []
            utts = list(pair_utterances(args.corpus_dir, tgt, split, skipped))
            facts = {"corpus": NAME, "split": split, "pair": f"{SRC}-{tgt}", "source": f"europarl-st-v1.1/{SRC}/{tgt}",
                     "audio": "m4a via ffmpeg pipe"}
            prepared[out] = write_speech_dir(out, utts, facts, src_lang=SRC, tgt_langs=[tgt], skipped=skipped)
    return prepared


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tgt_langs", nargs="+", default=list(TGT_LANGS), choices=TGT_LANGS,
                        help="target languages (the paper: de es fr it nl pt)")
    parser.add_argument("--splits", nargs="+", default=list(SPLITS),
                        help="split dirs to read (train dev test; v1.1 also has train-noisy for some pairs)")


CORPORA.register(NAME)(Corpus(
    name=NAME,
    layout=("Europarl-ST English speeches with six translations. "
            "Layout of v1.1 (--corpus_dir = v1.1): en/audios/<speech_id>.m4a and en/<xx>/<split>/"
            "segments.lst (<speech_id> <start> <end>), segments.en, segments.<xx>, speeches.lst + speakers.lst. "
            "Audio read through an ffmpeg pipe and cut by segments. Writes europarl_st_en_<xx>_<split>."),
    add_arguments=add_arguments,
    prepare=prepare,
))
