"""Text corpora (FLORES-200/FLORES+, WMT23, TowerBlocks, Tower-style CPT text) from their distributed layouts."""

import json
import random

import pytest

from espnet_spire.bin.prepare_corpus import main as prepare_main
from espnet_spire.common.kaldi_dir import read_kaldi_dict
from espnet_spire.lm.it_data import source_conversations
from espnet_spire.lm.prompts import PromptStyle
from espnet_spire.lm.sources import read_parallel
from espnet_spire.lm.text_policy import TextPolicy
from tests.fixtures_text import LANGS, write_flores200, write_tower_cpt_text, write_towerblocks, write_wmt23


def _prepare(*argv):
    with pytest.raises(SystemExit) as e:
        prepare_main([str(a) for a in argv])
    assert e.value.code == 0


def _facts(path):
    return json.loads((path / "corpus.json").read_text(encoding="utf-8"))


def _lines(path):
    return path.read_text(encoding="utf-8").splitlines()


def _snapshot(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("release", ["flores200", "floresplus"])
def test_flores(tmp_path, release):
    exp = write_flores200(tmp_path / "corpus", release)
    _prepare("flores200", "--corpus_dir", tmp_path / "corpus", "--data_root", tmp_path / "data")
    for split, name in exp["dirs"].items():
        d = tmp_path / "data" / name
        for lang in LANGS:
            assert len(read_kaldi_dict(d / f"text.tc.{lang}")) == exp["counts"][split]
        facts = _facts(d)
        assert facts["utterances"] == exp["counts"][split] and facts["release"] == release
        assert facts["langs"] == list(LANGS)
    for (split, lang, key), text in exp["texts"].items():
        assert read_kaldi_dict(tmp_path / "data" / exp["dirs"][split] / f"text.tc.{lang}")[key] == text


def test_flores_deterministic_and_errors(tmp_path):
    write_flores200(tmp_path / "corpus")
    for out in ("a", "b"):
        _prepare("flores200", "--corpus_dir", tmp_path / "corpus" / "flores200_dataset", "--data_root",
                 tmp_path / out, "--splits", "devtest")
    assert _snapshot(tmp_path / "a") == _snapshot(tmp_path / "b")
    from espnet_spire.corpora.flores200 import read_split
    with pytest.raises(FileNotFoundError, match=r"no FLORES dev split under .*eng_Latn\.dev"):
        read_split(str(tmp_path), "dev", ["en"])
    (tmp_path / "corpus" / "flores200_dataset" / "dev" / "deu_Latn.dev").write_text("one line\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"FLORES dev files differ in line count \(not aligned\)"):
        read_split(str(tmp_path / "corpus"), "dev", ["en", "de"])


@pytest.mark.parametrize("fmt", ["xml", "txt"])
def test_wmt23(tmp_path, fmt):
    exp = write_wmt23(tmp_path / "corpus", fmt)
    _prepare("wmt23", "--corpus_dir", tmp_path / "corpus", "--data_root", tmp_path / "data",
             "--pairs", "en-de", "de-en")
    for pair, name in exp["dirs"].items():
        d = tmp_path / "data" / name
        src, tgt = pair.split("-")
        rows = read_parallel(str(d), src, tgt)
        assert len(rows) == exp["count"]
        facts = _facts(d)
        assert (facts["src_lang"], facts["tgt_lang"], facts["format"], facts["ref"]) == (src, tgt, fmt, "refA")
        assert _lines(d / "skipped") == []
    for (pair, lang, key), text in exp["texts"].items():
        assert read_kaldi_dict(tmp_path / "data" / exp["dirs"][pair] / f"text.tc.{lang}")[key] == text


def test_wmt23_xml_and_txt_agree_and_errors(tmp_path):
    write_wmt23(tmp_path / "x", "xml")
    write_wmt23(tmp_path / "t", "txt")
    for src in ("x", "t"):
        _prepare("wmt23", "--corpus_dir", tmp_path / src, "--data_root", tmp_path / f"d{src}", "--pairs", "en-de")
    for name in ("text.tc.en", "text.tc.de"):
        xml, txt = (tmp_path / d / "wmt23_en_de" / name for d in ("dx", "dt"))
        assert xml.read_bytes() == txt.read_bytes()
    from espnet_spire.corpora.wmt23 import find_root, read_pair
    with pytest.raises(FileNotFoundError, match="no WMT23 release under"):
        find_root(str(tmp_path / "nothing"))
    with pytest.raises(FileNotFoundError, match=r"WMT23 en-ru: missing .*wmttest2023\.en-ru\.all\.xml"):
        read_pair(str(tmp_path / "x" / "wmt23-news-systems-v.0.1"), "en-ru")
    with pytest.raises(ValueError, match=r"no reference 'refB' \(it has: refA\)"):
        read_pair(str(tmp_path / "x" / "wmt23-news-systems-v.0.1"), "en-de", ref="refB")


def _stage10_reads(path):
    skipped = []
    src = {"name": "towerblocks", "type": "jsonl", "path": str(path)}
    convs = source_conversations(src, PromptStyle(), TextPolicy(), skipped, random.Random(0))
    return convs, skipped


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_towerblocks(tmp_path, fmt):
    if fmt == "parquet":
        pytest.importorskip("pyarrow", reason="TowerBlocks parquet needs pyarrow, not in tools/requirements.txt")
    exp = write_towerblocks(tmp_path / "corpus", fmt)
    _prepare("towerblocks", "--corpus_dir", tmp_path / "corpus", "--data_root", tmp_path / "data")
    d = tmp_path / "data" / "towerblocks"
    recs = [json.loads(line) for line in _lines(d / "towerblocks.jsonl")]
    assert len(recs) == exp["count"] and _facts(d)["utterances"] == exp["count"]
    assert recs[0] == {"id": "towerblocks-0000001", "lang": "en-de", "split": "train", "dataset": "wmt",
                       "task": "machine_translation", "conversations": [
                           {"from": "human", "value": "Translate to German: house"}, {"from": "gpt", "value": "Haus"}]}
    assert _lines(d / "skipped") == exp["skipped"]
    convs, skipped = _stage10_reads(d / "towerblocks.jsonl")  # stage 10 takes it unchanged
    assert [c.example_id for c in convs] == [r["id"] for r in recs] and skipped == []


def test_towerblocks_parquet_without_pyarrow_says_so(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pyarrow(name, *args, **kwargs):
        if name.startswith("pyarrow"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train-00000-of-00001.parquet").write_bytes(b"PAR1")
    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    from espnet_spire.corpora.towerblocks import find_files, iter_rows
    with pytest.raises(ImportError, match=r"needs pyarrow \(pip install pyarrow\), or export the dataset to JSONL"):
        list(iter_rows(*find_files(str(tmp_path))))


def test_tower_cpt_text(tmp_path):
    exp = write_tower_cpt_text(tmp_path / "corpus")
    for out in ("data", "again"):
        _prepare("tower_cpt_text", "--corpus_dir", tmp_path / "corpus", "--data_root", tmp_path / out)
    assert _snapshot(tmp_path / "data") == _snapshot(tmp_path / "again")
    for part in ("mono", "mt"):
        d = tmp_path / "data" / exp[part]["dir"]
        for lang, n in exp[part]["lines"].items():
            assert len(read_kaldi_dict(d / f"text.tc.{lang}")) == n
        assert sorted(p.name for p in d.glob("text.tc.*")) == [f"text.tc.{lang}" for lang in exp[part]["lines"]]
        assert _facts(d)["lines_per_lang"] == exp[part]["lines"]
        for (lang, key), text in exp[part]["texts"].items():
            assert read_kaldi_dict(d / f"text.tc.{lang}")[key] == text
        assert _lines(d / "skipped") == exp[part]["skipped"]
    # stage 7 pairs English with each language by id
    mt = str(tmp_path / "data" / "tower_cpt_mt")
    assert read_parallel(mt, "en", "de") == [("Europarl.de-en-00000001", "Good day.", "Guten Tag.")]
    assert read_parallel(mt, "en", "zh") == [("tiny.en-zh-00000001", "Hello.", "你好。")]


def test_tower_cpt_text_errors(tmp_path):
    from espnet_spire.corpora.tower_cpt_text import parallel_rows
    (tmp_path / "parallel").mkdir()
    (tmp_path / "parallel" / "a.en").write_text("x\ny\n", encoding="utf-8")
    with pytest.raises(ValueError, match="parallel corpus 'a' has one language only"):
        parallel_rows(str(tmp_path / "parallel"), [])
    (tmp_path / "parallel" / "a.de").write_text("x\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"the files of 'a' differ in line count \(not aligned\)"):
        parallel_rows(str(tmp_path / "parallel"), [])
    with pytest.raises(SystemExit) as e:
        prepare_main(["tower_cpt_text", "--corpus_dir", str(tmp_path / "none"), "--data_root", str(tmp_path / "d")])
    assert e.value.code == 1
