"""FLORES-200 (and FLORES+) dev/devtest as text-only test sets, one dir per split, all languages aligned.

Layouts read (``--corpus_dir`` is the extracted root, or the folder that contains it):

* FLORES-200 as released by Meta (``flores200dataset.tar.gz``):
  ``flores200_dataset/{dev,devtest}/<code>.{dev,devtest}``, one sentence a line, line i of every
  language the same sentence (997 dev, 1012 devtest); Chinese is ``zho_Hans``;
* FLORES+ as released by OLDI on GitHub (``floresp-v2.0-rc.3.zip``, plain text):
  ``floresp-v2.0-rc.3/{dev,devtest}/{dev,devtest}.<code>``; Chinese is ``cmn_Hans``. (The Hub's
  parquet copy of FLORES+ is not read.)

Ids are ``<split>-NNNN``, the 1-based line number, which is FLORES's own sentence id. The dirs
(``flores200_<split>``, or ``floresplus_<split>``) hold ``text.tc.<lang>`` in ESPnet-ST codes.
"""

from __future__ import annotations

import argparse
import glob
import os
from typing import Dict, List, Tuple

from espnet_spire.common.fileio import read_lines
from espnet_spire.corpora.datadir import write_text_dir
from espnet_spire.corpora.registry import CORPORA, Corpus, Prepared
from espnet_spire.lm.languages import FLORES_CODES

DEFAULT_LANGS = ("en", "de", "fr", "es", "it", "pt", "nl", "ru", "zh", "ko")

#: ESPnet-ST code -> file code, per release (the original release named Chinese zho_Hans).
RELEASE_CODES: Dict[str, Dict[str, str]] = {
    "flores200": {**FLORES_CODES, "zh": "zho_Hans"},
    "floresplus": dict(FLORES_CODES),
}


def _file(root: str, release: str, split: str, code: str) -> str:
    name = f"{code}.{split}" if release == "flores200" else f"{split}.{code}"
    return os.path.join(root, split, name)


def find_release(corpus_dir: str, split: str) -> Tuple[str, str]:
    """``(release, root)`` of the FLORES copy under ``corpus_dir``; fails listing what was looked for."""
    candidates = [corpus_dir, os.path.join(corpus_dir, "flores200_dataset"),
                  *sorted(glob.glob(os.path.join(corpus_dir, "floresp-v*")))]
    for root in candidates:
        for release, codes in RELEASE_CODES.items():
            if os.path.isfile(_file(root, release, split, codes["en"])):
                return release, root
    raise FileNotFoundError(
        f"no FLORES {split} split under {corpus_dir}: expected flores200_dataset/{split}/eng_Latn.{split} "
        f"(FLORES-200) or floresp-v2.0-*/{split}/{split}.eng_Latn (FLORES+)")


def read_split(corpus_dir: str, split: str, langs: List[str]) -> Tuple[str, List[Tuple[str, Dict[str, str]]]]:
    """``(release, rows)``: one row per sentence id with its text in every language."""
    release, root = find_release(corpus_dir, split)
    codes = RELEASE_CODES[release]
    unknown = [lang for lang in langs if lang not in codes]
    if unknown:
        raise ValueError(f"no FLORES code for language(s) {' '.join(unknown)} (known: {' '.join(sorted(codes))})")
    columns = {lang: read_lines(_file(root, release, split, codes[lang])) for lang in langs}
    sizes = {lang: len(lines) for lang, lines in columns.items()}
    if len(set(sizes.values())) != 1:
        raise ValueError(f"FLORES {split} files differ in line count (not aligned): {sizes}")
    n = sizes[langs[0]]
    rows = [(f"{split}-{i + 1:04d}", {lang: columns[lang][i] for lang in langs}) for i in range(n)]
    return release, rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--splits", nargs="+", default=["dev", "devtest"], choices=["dev", "devtest"],
                        help="splits to write, one dir each")
    parser.add_argument("--langs", nargs="+", default=list(DEFAULT_LANGS), help="ESPnet-ST language codes")


def prepare(args: argparse.Namespace) -> Prepared:
    langs = list(args.langs)
    out: Prepared = {}
    for split in args.splits:
        release, rows = read_split(args.corpus_dir, split, langs)
        path = os.path.join(args.data_root, f"{release}_{split}")
        facts = {"corpus": "flores200", "release": release, "split": split, "role": "test_text",
                 "source_dir": os.path.basename(os.path.normpath(args.corpus_dir))}
        out[path] = write_text_dir(path, rows, langs, facts)
    return out


CORPORA.register("flores200")(Corpus(
    name="flores200",
    layout=("FLORES-200 or FLORES+ dev/devtest as text-only test sets. FLORES-200 as released "
            "(flores200_dataset/{dev,devtest}/<code>.{dev,devtest}, e.g. eng_Latn.devtest, "
            "zho_Hans) or FLORES+ v2 plain text (floresp-v2.0-rc.3/{dev,devtest}/{dev,devtest}.<code>, cmn_Hans). "
            "Writes data/flores200_<split> (floresplus_<split>) with aligned text.tc.<lang> (ESPnet-ST codes), "
            "ids <split>-NNNN = FLORES sentence ids."),
    add_arguments=add_arguments,
    prepare=prepare,
))
