"""WMT23 general-task test sets (en<->de, ru, zh) as text-only test sets, one dir per direction.

Layouts read (``--corpus_dir`` is any of these roots, or a folder that contains one):

* the official release ``wmt23-news-systems`` (GitHub tag ``v.0.1``, the tarball sacrebleu
  downloads): ``xml/wmttest2023.<src>-<tgt>.all.xml`` (documents, source and references, the
  file ``sacrebleu -t wmt23`` scores) and ``txt/sources/generaltest2023.<src>-<tgt>.src.<src>`` /
  ``txt/references/generaltest2023.<src>-<tgt>.ref.refA.<tgt>`` (one segment a line, aligned);
* sacrebleu's cache of it: ``~/.sacrebleu/wmt23/raw/wmt23-news-systems-v.0.1/xml/...``.

The XML is read with sacrebleu's own WMT21+ reader, so the segments, their order, the dropped
test-suite documents and segments without a reference are exactly what sacrebleu scores; the
plain-text files are read when there is no XML. Documents are flattened to one segment a line
(inner whitespace, paragraph breaks included, becomes one space, as sacrebleu does); ids are
``<src>-<tgt>-NNNNNN``, the segment's position in the test set, stable across both formats.
"""

from __future__ import annotations

import argparse
import glob
import logging
import os
from typing import Dict, List, Tuple

from espnet_spire.common.fileio import read_lines
from espnet_spire.corpora.datadir import write_text_dir
from espnet_spire.corpora.registry import CORPORA, Corpus, Prepared

logger = logging.getLogger(__name__)

DEFAULT_PAIRS = ("en-de", "de-en", "en-ru", "ru-en", "en-zh", "zh-en")
Row = Tuple[str, Dict[str, str]]


def _xml_path(root: str, pair: str) -> str:
    return os.path.join(root, "xml", f"wmttest2023.{pair}.all.xml")


def _txt_paths(root: str, pair: str, ref: str) -> Tuple[str, str]:
    src, tgt = pair.split("-")
    return (os.path.join(root, "txt", "sources", f"generaltest2023.{pair}.src.{src}"),
            os.path.join(root, "txt", "references", f"generaltest2023.{pair}.ref.{ref}.{tgt}"))


def find_root(corpus_dir: str) -> str:
    """The release root (the folder holding ``xml/`` or ``txt/``) under ``corpus_dir``."""
    patterns = ["", "wmt23-news-systems*", "raw/wmt23-news-systems*", "wmt23/raw/wmt23-news-systems*"]
    for pattern in patterns:
        for root in sorted(glob.glob(os.path.join(corpus_dir, pattern))) if pattern else [corpus_dir]:
            if os.path.isdir(os.path.join(root, "xml")) or os.path.isdir(os.path.join(root, "txt")):
                return root
    raise FileNotFoundError(
        f"no WMT23 release under {corpus_dir}: expected wmt23-news-systems*/xml/wmttest2023.<pair>.all.xml "
        f"or .../txt/sources/generaltest2023.<pair>.src.<src> (or sacrebleu's ~/.sacrebleu/wmt23)")


def read_xml(path: str, pair: str, ref: str) -> List[Row]:
    """Rows of one WMT23 XML file through sacrebleu's reader (what ``sacrebleu -t wmt23`` scores)."""
    from sacrebleu.dataset.wmt_xml import WMTXMLDataset

    src, tgt = pair.split("-")
    fields = WMTXMLDataset._unwrap_wmt21_or_later(path)
    key = f"ref:{ref}"
    if key not in fields:
        refs = sorted(f[4:] for f in fields if f.startswith("ref:"))
        raise ValueError(f"{path}: no reference {ref!r} (it has: {' '.join(refs) or 'none'})")
    return [(f"{pair}-{i + 1:06d}", {src: s or "", tgt: t or ""})
            for i, (s, t) in enumerate(zip(fields["src"], fields[key]))]


def read_txt(src_path: str, ref_path: str, pair: str) -> List[Row]:
    """Rows of the line-aligned plain-text source and reference files."""
    src, tgt = pair.split("-")
    sources, refs = read_lines(src_path), read_lines(ref_path)
    if len(sources) != len(refs):
        raise ValueError(f"{src_path} has {len(sources)} lines but {ref_path} has {len(refs)} (not aligned)")
    return [(f"{pair}-{i + 1:06d}", {src: s, tgt: t}) for i, (s, t) in enumerate(zip(sources, refs))]


def read_pair(root: str, pair: str, ref: str = "refA", fmt: str = "auto") -> Tuple[str, List[Row]]:
    """``(format used, rows)`` of one direction."""
    xml = _xml_path(root, pair)
    src_path, ref_path = _txt_paths(root, pair, ref)
    if fmt in ("auto", "xml") and os.path.isfile(xml):
        return "xml", read_xml(xml, pair, ref)
    if fmt in ("auto", "txt") and os.path.isfile(src_path):
        return "txt", read_txt(src_path, ref_path, pair)
    wanted = {"auto": f"{xml} or {src_path}", "xml": xml, "txt": src_path}[fmt]
    raise FileNotFoundError(f"WMT23 {pair}: missing {wanted}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pairs", nargs="+", default=list(DEFAULT_PAIRS), help="directions <src>-<tgt>, one dir each")
    parser.add_argument("--ref", default="refA", help="reference translator (WMT23 en<->de/ru/zh: refA)")
    parser.add_argument("--format", dest="wmt_format", default="auto", choices=["auto", "xml", "txt"],
                        help="read the XML release files or the plain-text ones (auto: XML where present)")


def prepare(args: argparse.Namespace) -> Prepared:
    root = find_root(args.corpus_dir)
    out: Prepared = {}
    for pair in args.pairs:
        if pair.count("-") != 1:
            raise ValueError(f"a WMT23 pair is <src>-<tgt>, got {pair!r}")
        src, tgt = pair.split("-")
        fmt, rows = read_pair(root, pair, args.ref, args.wmt_format)
        path = os.path.join(args.data_root, f"wmt23_{src}_{tgt}")
        facts = {"corpus": "wmt23", "split": "generaltest2023", "role": "test_text", "src_lang": src,
                 "tgt_lang": tgt, "ref": args.ref, "format": fmt,
                 "source_dir": os.path.basename(os.path.normpath(root))}
        out[path] = write_text_dir(path, rows, [src, tgt], facts)
    return out


CORPORA.register("wmt23")(Corpus(
    name="wmt23",
    layout=("WMT23 general test sets en<->de/ru/zh, one dir per direction. As released in wmt23-news-systems "
            "(v.0.1): xml/wmttest2023.<src>-<tgt>.all.xml "
            "(read with sacrebleu's reader) or txt/sources/generaltest2023.<pair>.src.<src> + "
            "txt/references/generaltest2023.<pair>.ref.refA.<tgt>; also sacrebleu's cache ~/.sacrebleu/wmt23. "
            "Writes data/wmt23_<src>_<tgt> (text.tc.<src>, text.tc.<tgt>), ids <src>-<tgt>-NNNNNN."),
    add_arguments=add_arguments,
    prepare=prepare,
))
