"""GigaSpeech (SpeechColab) as released, after ``utils/download_gigaspeech.sh`` (decrypted audio).

Layout: ``GigaSpeech.json`` at the corpus root, ``{"audios": [{"aid", "path", "duration",
"subsets", "segments": [{"sid", "begin_time", "end_time", "text_tn", "subsets"}, ...]}, ...]}``
with subsets written ``{XS}`` .. ``{XL}``, ``{DEV}``, ``{TEST}``, and the long recordings at
``audio/<source>/P<nnnn>/<aid>.opus`` (the ``path`` field). Segments are cut by ``segments``,
the recordings stay opus (read lazily). Speakers are not labelled: the recording is the speaker.
Text is normalised as in the paper (appendix A.1, :func:`~espnet_spire.corpora.rules.gigaspeech_text`).
Layout facts as in lhotse's ``gigaspeech`` recipe and ESPnet's ``egs2/gigaspeech/asr1/local/data.sh``.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Dict, List, Tuple

from espnet_spire.common.cli import str2bool
from espnet_spire.corpora.datadir import Utterance, write_speech_dir
from espnet_spire.corpora.registry import CORPORA, Corpus, Prepared
from espnet_spire.corpora.rules import normalize_gigaspeech

SUBSETS = ("XS", "S", "M", "L", "XL", "DEV", "TEST")


def read_subsets(corpus_dir: str, subsets: List[str]) -> Dict[str, Tuple[List[Utterance], List[Tuple[str, str]]]]:
    """``{subset: (utterances, skipped)}`` from ``GigaSpeech.json``; a missing opus file skips its segments."""
    meta_path = os.path.join(corpus_dir, "GigaSpeech.json")
    if not os.path.isfile(meta_path):
        raise FileNotFoundError(f"GigaSpeech metadata not found: {meta_path}")
    with open(meta_path, encoding="utf-8") as f:
        meta = json.load(f)
    out: Dict[str, Tuple[List[Utterance], List[Tuple[str, str]]]] = {s: ([], []) for s in subsets}
    wanted = {"{" + s + "}": s for s in subsets}
    for audio in meta["audios"]:
        aid = audio["aid"]
        path = os.path.abspath(os.path.join(corpus_dir, audio["path"]))
        present = os.path.isfile(path)
        for seg in audio.get("segments", []):
            for tag in seg.get("subsets", []):
                subset = wanted.get(tag)
                if subset is None:
                    continue
                utts, skipped = out[subset]
                if not present:
                    skipped.append((seg["sid"], "missing_audio"))
                    continue
                utts.append(Utterance(seg["sid"], aid, path, seg.get("text_tn", ""), recording_id=aid,
                                      start=float(seg["begin_time"]), end=float(seg["end_time"])))
    return out


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--subsets", nargs="+", default=["XL", "DEV", "TEST"], choices=SUBSETS,
                        help="subsets to prepare (data dir gigaspeech_<subset lower case>)")
    parser.add_argument("--normalize_text", type=str2bool, default=True,
                        help="the paper's normalisation (lower case, punctuation tags, garbage tags dropped)")


def prepare(args: argparse.Namespace) -> Prepared:
    prepared: Prepared = {}
    for subset, (utts, skipped) in read_subsets(args.corpus_dir, args.subsets).items():
        rules = []
        if args.normalize_text:
            utts, report, emptied = normalize_gigaspeech(utts)
            rules.append(report)
            skipped = skipped + emptied
        out = os.path.join(args.data_root, f"gigaspeech_{subset.lower()}")
        prepared[out] = write_speech_dir(out, utts, {"corpus": "gigaspeech", "split": subset}, rules=rules,
                                         skipped=skipped)
    return prepared


CORPORA.register("gigaspeech")(Corpus(
    name="gigaspeech",
    layout="GigaSpeech (SpeechColab release, audio decrypted), opus recordings cut by segments. "
           "--corpus_dir holds GigaSpeech.json and "
           "audio/<source>/P<nnnn>/<aid>.opus; segments of the chosen subsets ({XS}..{XL}, {DEV}, {TEST}).",
    add_arguments=_add_arguments,
    prepare=prepare,
))
