"""LibriSpeech (openslr SLR12) as distributed: ``LibriSpeech/<part>/<spk>/<chapter>/``.

Each chapter dir holds ``<spk>-<chapter>-<utt>.flac`` files and one ``<spk>-<chapter>.trans.txt``
(``<utt-id> <TRANSCRIPT>`` lines, upper case). The paper tests on test-clean and test-other;
train parts (train-clean-100, ...) are read by the same code. Durations come from the flac
headers. Layout facts as in lhotse's ``librispeech`` recipe and Kaldi's ``egs/librispeech``.
"""

from __future__ import annotations

import argparse
import glob
import os
from typing import List, Tuple

from espnet_spire.corpora.datadir import Utterance, write_speech_dir
from espnet_spire.corpora.manifests import ManifestUtterances, require_dir
from espnet_spire.corpora.registry import CORPORA, Corpus, Prepared

PARTS = ("dev-clean", "dev-other", "test-clean", "test-other", "train-clean-100", "train-clean-360",
         "train-other-500")


def read_part(part_dir: str) -> Tuple[List[Utterance], List[Tuple[str, str]]]:
    """The utterances of one part; transcript lines without a flac are listed as skipped."""
    found = ManifestUtterances()
    for trans in sorted(glob.glob(os.path.join(part_dir, "*", "*", "*.trans.txt"))):
        chapter_dir = os.path.dirname(trans)
        with open(trans, encoding="utf-8") as f:
            for line in f:
                fields = line.split(maxsplit=1)
                if not fields:
                    continue
                utt_id = fields[0]
                flac = os.path.abspath(os.path.join(chapter_dir, f"{utt_id}.flac"))
                found.add(utt_id, utt_id.split("-", 1)[0], flac, fields[1] if len(fields) > 1 else "")
    return found.result()


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--parts", nargs="+", default=["test-clean", "test-other"], choices=PARTS,
                        help="parts to prepare (data dir librispeech_<part with _>)")


def prepare(args: argparse.Namespace) -> Prepared:
    root = args.corpus_dir
    if os.path.isdir(os.path.join(root, "LibriSpeech")):
        root = os.path.join(root, "LibriSpeech")
    prepared: Prepared = {}
    for part in args.parts:
        part_dir = os.path.join(root, part)
        require_dir(part_dir, f"LibriSpeech part {part}")
        utts, skipped = read_part(part_dir)
        out = os.path.join(args.data_root, "librispeech_" + part.replace("-", "_"))
        prepared[out] = write_speech_dir(out, utts, {"corpus": "librispeech", "split": part}, skipped=skipped)
    return prepared


CORPORA.register("librispeech")(Corpus(
    name="librispeech",
    layout="LibriSpeech (openslr SLR12) read English, flac. "
           "--corpus_dir is the dir holding LibriSpeech/ (or LibriSpeech/ itself); "
           "reads <part>/<spk>/<chapter>/<spk>-<chapter>.trans.txt and the <utt>.flac next to it.",
    add_arguments=_add_arguments,
    prepare=prepare,
))
