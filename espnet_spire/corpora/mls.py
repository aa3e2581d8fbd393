"""Multilingual LibriSpeech, English part (openslr SLR94), as distributed.

Layout: ``mls_english/<split>/transcripts.txt`` (``<spk>_<book>_<utt>\\t<transcript>``),
``<split>/segments.txt`` (``<utt>\\t<url>\\t<start>\\t<end>``, times in the LibriVox source) and
``<split>/audio/<spk>/<book>/<spk>_<book>_<utt>.flac``; the ``mls_english_opus`` release has the
same tree with ``.opus`` files. Durations come from ``segments.txt`` (end - start) when it is
there, else from the audio headers. For CPT the paper keeps at most 13 transcripts per speaker,
sampled uniformly (appendix A.1): the train split is also written capped, as ``mls_en_train_cpt``.
"""

from __future__ import annotations

import argparse
import os
from typing import Dict, List, Tuple

from espnet_spire.corpora.datadir import Utterance, write_speech_dir
from espnet_spire.corpora.manifests import ManifestUtterances, require_dir
from espnet_spire.corpora.registry import CORPORA, Corpus, Prepared
from espnet_spire.corpora.rules import MLS_MAX_PER_SPEAKER, cap_per_speaker

SPLITS = ("train", "dev", "test")


def _segment_seconds(path: str) -> Dict[str, float]:
    seconds: Dict[str, float] = {}
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                fields = line.split()
                if len(fields) == 4:
                    seconds[fields[0]] = round(float(fields[3]) - float(fields[2]), 3)
    return seconds


def read_split(split_dir: str, audio_ext: str) -> Tuple[List[Utterance], List[Tuple[str, str]]]:
    """The utterances of one split; rows without audio are listed as skipped."""
    durations = _segment_seconds(os.path.join(split_dir, "segments.txt"))
    found = ManifestUtterances()
    with open(os.path.join(split_dir, "transcripts.txt"), encoding="utf-8") as f:
        for line in f:
            utt_id, _, text = line.rstrip("\r\n").partition("\t")
            if not utt_id:
                continue
            parts = utt_id.split("_")
            if len(parts) != 3:
                found.skipped.append((utt_id, "bad_id"))
                continue
            speaker, book = parts[0], parts[1]
            audio = os.path.abspath(os.path.join(split_dir, "audio", speaker, book, f"{utt_id}.{audio_ext}"))
            found.add(utt_id, speaker, audio, text, durations.get(utt_id))
    return found.result()


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--splits", nargs="+", default=list(SPLITS), choices=SPLITS)
    parser.add_argument("--audio_ext", default="auto", choices=["auto", "flac", "opus"],
                        help="flac (mls_english) or opus (mls_english_opus); auto: from the dir name")
    parser.add_argument("--max_per_speaker", type=int, default=MLS_MAX_PER_SPEAKER,
                        help="cap of the CPT copy of train (mls_en_train_cpt); 0: do not write it")


def prepare(args: argparse.Namespace) -> Prepared:
    root = args.corpus_dir
    for name in ("mls_english", "mls_english_opus"):
        if os.path.isdir(os.path.join(root, name)):
            root = os.path.join(root, name)
            break
    ext = args.audio_ext
    if ext == "auto":
        ext = "opus" if os.path.basename(os.path.normpath(root)).endswith("_opus") else "flac"
    prepared: Prepared = {}
    for split in args.splits:
        split_dir = os.path.join(root, split)
        require_dir(split_dir, f"MLS English split {split}")
        utts, skipped = read_split(split_dir, ext)
        facts = {"corpus": "mls", "split": split, "source": os.path.basename(os.path.normpath(root))}
        out = os.path.join(args.data_root, f"mls_en_{split}")
        prepared[out] = write_speech_dir(out, utts, facts, skipped=skipped)
        if split == "train" and args.max_per_speaker > 0:
            kept, report = cap_per_speaker(utts, args.max_per_speaker, args.seed)
            out = os.path.join(args.data_root, "mls_en_train_cpt")
            prepared[out] = write_speech_dir(out, kept, facts, rules=[report], skipped=skipped)
    return prepared


CORPORA.register("mls")(Corpus(
    name="mls",
    layout="Multilingual LibriSpeech English (openslr SLR94), flac or opus. --corpus_dir holds mls_english/ or "
           "mls_english_opus/ (or is it); reads <split>/transcripts.txt, <split>/segments.txt and "
           "<split>/audio/<spk>/<book>/<utt>.flac|.opus.",
    add_arguments=_add_arguments,
    prepare=prepare,
))
