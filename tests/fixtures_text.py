"""Tiny text corpora in their distributed layouts: one ``write_<corpus>(root, ...) -> expected`` each.

Shared by the corpus tests and by any test that needs these corpora on disk (a full-scale recipe
run, plan mode). Deterministic and fast; ``expected`` holds the dir names, counts and a few texts a
correct preparation gives.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List

LANGS = ("en", "de", "fr", "es", "it", "pt", "nl", "ru", "zh", "ko")
_FLORES200 = {"en": "eng_Latn", "de": "deu_Latn", "fr": "fra_Latn", "es": "spa_Latn", "it": "ita_Latn",
              "pt": "por_Latn", "nl": "nld_Latn", "ru": "rus_Cyrl", "zh": "zho_Hans", "ko": "kor_Hang"}
_WORDS = {"en": "house", "de": "Haus", "fr": "maison", "es": "casa", "it": "casa", "pt": "casa", "nl": "huis",
          "ru": "дом", "zh": "房子", "ko": "집"}


def _write(path: Path, lines: List[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def flores_sentence(lang: str, i: int) -> str:
    return f"{_WORDS[lang]} {i} ({lang})."


def write_flores200(root: Path, release: str = "flores200", sizes: Dict[str, int] = None) -> Dict:
    """FLORES-200 (``flores200_dataset/<split>/<code>.<split>``) or FLORES+ plain text
    (``floresp-v2.0-rc.3/<split>/<split>.<code>``, Chinese ``cmn_Hans``)."""
    sizes = sizes or {"dev": 3, "devtest": 4}
    for split, n in sizes.items():
        for lang in LANGS:
            code = _FLORES200[lang]
            if release == "flores200":
                path = root / "flores200_dataset" / split / f"{code}.{split}"
            else:
                code = "cmn_Hans" if lang == "zh" else code
                path = root / "floresp-v2.0-rc.3" / split / f"{split}.{code}"
            _write(path, [flores_sentence(lang, i) for i in range(1, n + 1)])
    return {"dirs": {split: f"{release}_{split}" for split in sizes}, "counts": sizes,
            "texts": {("devtest", "zh", "devtest-0002"): "房子 2 (zh).", ("dev", "ko", "dev-0003"): "집 3 (ko)."}}


_WMT_DOCS = [  # (doc id, [(source, reference or None)])
    ("doc-a", [("The first  sentence.", "Der erste Satz."),
               ("A paragraph\nwith two lines.", "Ein Absatz\nmit zwei Zeilen.")]),
    ("doc-b", [("Third one.", "Der dritte.")]),
]


def _wmt_xml(src: str, tgt: str) -> str:
    docs = []
    for docid, segs in _WMT_DOCS:
        s = "".join(f'<seg id="{i}">{a}</seg>' for i, (a, _) in enumerate(segs, 1))
        r = "".join(f'<seg id="{i}">{b}</seg>' for i, (_, b) in enumerate(segs, 1))
        docs.append(f'<doc id="{docid}" origlang="{src}" domain="news"><src lang="{src}"><p>{s}</p></src>'
                    f'<ref lang="{tgt}" translator="refA"><p>{r}</p></ref></doc>')
    # a test-suite document (no reference) and a segment without a reference: sacrebleu leaves both out
    docs.append(f'<doc id="ts-1" origlang="{src}" testsuite="x">'
                f'<src lang="{src}"><p><seg id="1">suite</seg></p></src></doc>')
    docs.append(f'<doc id="doc-c" origlang="{src}" domain="speech">'
                f'<src lang="{src}"><p><seg id="1">no ref</seg></p></src>'
                f'<ref lang="{tgt}" translator="refA"><p><seg id="1"></seg></p></ref></doc>')
    return ("<?xml version='1.0' encoding='utf-8'?>\n<dataset id=\"generaltest2023\"><collection id=\"general\">"
            + "".join(docs) + "</collection></dataset>\n")


def write_wmt23(root: Path, fmt: str = "xml", pairs=("en-de", "de-en")) -> Dict:
    """The ``wmt23-news-systems-v.0.1`` release: ``xml/wmttest2023.<pair>.all.xml`` or
    ``txt/{sources,references}/generaltest2023.<pair>.{src.<src>,ref.refA.<tgt>}``."""
    base = root / "wmt23-news-systems-v.0.1"
    for pair in pairs:
        src, tgt = pair.split("-")
        if fmt == "xml":
            path = base / "xml" / f"wmttest2023.{pair}.all.xml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(_wmt_xml(src, tgt), encoding="utf-8")
        else:
            segs = [seg for _, doc in _WMT_DOCS for seg in doc]
            _write(base / "txt" / "sources" / f"generaltest2023.{pair}.src.{src}",
                   [a.replace("\n", " ") for a, _ in segs])
            _write(base / "txt" / "references" / f"generaltest2023.{pair}.ref.refA.{tgt}",
                   [b.replace("\n", " ") for _, b in segs])
    return {"dirs": {pair: "wmt23_" + pair.replace("-", "_") for pair in pairs}, "count": 3,
            "texts": {("en-de", "de", "en-de-000002"): "Ein Absatz mit zwei Zeilen.",
                      ("en-de", "en", "en-de-000001"): "The first sentence."}}


def towerblocks_rows() -> List[object]:
    """Rows as the release has them, good and malformed (a str is a raw line that is not JSON)."""
    def conv(*turns):
        return [{"from": f, "value": v} for f, v in turns]
    good = {"lang": "en-de", "split": "train", "dataset": "wmt", "task": "machine_translation"}
    return [
        {"conversations": conv(("human", "Translate to German: house"), ("gpt", "Haus")), **good},
        {"conversations": conv(("system", "Be brief."), ("human", "Hi"), ("gpt", "Hello")),
         "lang": "en", "split": "train", "dataset": "ultrachat", "task": "general_purpose"},
        "{not json",
        {"lang": "en", "split": "train", "dataset": "x", "task": "y"},  # no conversations
        {"conversations": conv(("bot", "?"), ("gpt", "!")), **good},  # unknown speaker
        {"conversations": conv(("human", "only a question")), **good},  # no final assistant turn
        {"conversations": conv(("human", "Q"), ("gpt", "  ")), **good},  # empty turn
        {"conversations": conv(("human", "Translate: cat"), ("gpt", "Katze")), **good},
    ]


def write_towerblocks(root: Path, fmt: str = "jsonl") -> Dict:
    """``Unbabel/TowerBlocks-v0.2``: ``data/train-00000-of-00001.parquet`` (needs pyarrow) or a JSONL export."""
    rows = towerblocks_rows()
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist([r for r in rows if isinstance(r, dict) and "conversations" in r])
        (root / "data").mkdir(parents=True, exist_ok=True)
        pq.write_table(table, root / "data" / "train-00000-of-00001.parquet")
        return {"count": 3, "skipped": ["towerblocks-0000003 unknown_speaker", "towerblocks-0000004 bad_turns",
                                        "towerblocks-0000005 bad_turns"]}
    _write(root / "data" / "train.jsonl",
           [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows])
    return {"count": 3, "skipped": ["towerblocks-0000003 not_json:Expecting_property_name_enclosed_in_double_quotes",
                                    "towerblocks-0000004 no_conversations", "towerblocks-0000005 unknown_speaker",
                                    "towerblocks-0000006 bad_turns", "towerblocks-0000007 bad_turns"]}


def write_tower_cpt_text(root: Path) -> Dict:
    """``mono/`` (plain and JSONL per language) and ``parallel/`` (OPUS Moses pair files and a JSONL pair)."""
    _write(root / "mono" / "news.2023.de", ["Ein Satz.", "", "Noch ein Satz."])
    _write(root / "mono" / "fr.txt", ["Une phrase."])
    _write(root / "mono" / "web.ko.jsonl", [json.dumps({"text": "문서\n두 줄"}, ensure_ascii=False), "{bad",
                                            json.dumps({"title": "no text"})])
    _write(root / "mono" / "README", ["ignored"])
    _write(root / "parallel" / "Europarl.de-en.de", ["Guten Tag.", "Danke."])
    _write(root / "parallel" / "Europarl.de-en.en", ["Good day.", ""])
    _write(root / "parallel" / "tiny.en-zh.jsonl",
           [json.dumps({"source": "Hello.", "target": "你好。"}, ensure_ascii=False), json.dumps({"source": "x"})])
    return {
        "mono": {"dir": "tower_cpt_mono", "lines": {"de": 2, "fr": 1, "ko": 1},
                 "texts": {("ko", "web.ko-00000001"): "문서 두 줄", ("de", "news.2023.de-00000003"): "Noch ein Satz."},
                 "skipped": ["news.2023.de-00000002 empty_text:de",
                             "web.ko-00000002 not_json:Expecting_property_name_enclosed_in_double_quotes",
                             "web.ko-00000003 no_text_field"]},
        "mt": {"dir": "tower_cpt_mt", "lines": {"de": 1, "en": 2, "zh": 1},
               "texts": {("en", "Europarl.de-en-00000001"): "Good day.", ("zh", "tiny.en-zh-00000001"): "你好。"},
               "skipped": ["Europarl.de-en-00000002 empty_text:en", "tiny.en-zh-00000002 no_source_or_target"]},
    }
