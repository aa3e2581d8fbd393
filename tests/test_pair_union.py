"""Gold-ST pair dirs of one corpus made combinable: joined (same clips) or tagged (different segments)."""

import subprocess
import sys

import pytest

from espnet_spire.data.combine import combine_data_dirs
from espnet_spire.data.pair_union import join_pair_dirs, tag_pair_dir
from espnet_spire.data.validate import validate_data_dir


def _write(d, files):
    d.mkdir(parents=True)
    for name, lines in files.items():
        (d / name).write_text("".join(line + "\n" for line in lines))


def _pair(d, lang, ids, text=None):
    speakers = sorted({u.split("-")[0] for u in ids})
    _write(d, {"wav.scp": [f"{u} /a/{u}.wav" for u in ids], "text": [f"{u} {text or 'hi'} {u}" for u in ids],
               "utt2spk": [f"{u} {u.split('-')[0]}" for u in ids], f"text.tc.{lang}": [f"{u} {lang} {u}" for u in ids],
               "spk2utt": [f"{s} " + " ".join(u for u in ids if u.startswith(s)) for s in speakers]})


def test_join_keeps_the_utterances_of_every_pair(tmp_path):
    _pair(tmp_path / "de", "de", ["s1-a", "s1-b", "s2-c"])
    _pair(tmp_path / "zh", "zh", ["s1-a", "s2-c"])
    facts = join_pair_dirs(tmp_path / "out", [str(tmp_path / "de"), str(tmp_path / "zh")])
    assert facts["utterances"] == 2 and facts["skipped"] == 1
    out = tmp_path / "out"
    assert validate_data_dir(str(out), check_audio=False).ok
    assert (out / "text.tc.zh").read_text() == "s1-a zh s1-a\ns2-c zh s2-c\n"
    assert (out / "text.tc.de").read_text() == "s1-a de s1-a\ns2-c de s2-c\n"
    assert (out / "skipped").read_text() == "s1-b not_in_every_pair\n"


def test_join_refuses_pairs_that_disagree(tmp_path):
    _pair(tmp_path / "de", "de", ["s1-a"])
    _pair(tmp_path / "zh", "zh", ["s1-a"], text="other")
    with pytest.raises(ValueError, match="'s1-a' differs in .*/text and .*: pair dirs joined into one"):
        join_pair_dirs(tmp_path / "out", [str(tmp_path / "de"), str(tmp_path / "zh")])


def test_tagged_pairs_combine(tmp_path):
    _pair(tmp_path / "de", "de", ["s1-a", "s1-b"])
    _pair(tmp_path / "fr", "fr", ["s1-a", "s2-c"])
    with pytest.raises(ValueError, match="id 's1-a' is in both"):
        combine_data_dirs(tmp_path / "bad", [str(tmp_path / "de"), str(tmp_path / "fr")])
    for lang in ("de", "fr"):
        tag_pair_dir(tmp_path / f"t{lang}", str(tmp_path / lang), lang)
        assert validate_data_dir(str(tmp_path / f"t{lang}"), check_audio=False).ok
    assert (tmp_path / "tde/wav.scp").read_text() == "s1-a-de /a/s1-a.wav\ns1-b-de /a/s1-b.wav\n"
    facts = combine_data_dirs(tmp_path / "all", [str(tmp_path / "tde"), str(tmp_path / "tfr")])
    assert facts["lines"]["text"] == 4 and facts["lines"]["text.tc.de"] == 2 and facts["lines"]["text.tc.fr"] == 2


def test_tag_moves_segment_recordings_too(tmp_path):
    _write(tmp_path / "ep", {"wav.scp": ["rec1 /a/rec1.wav"], "segments": ["s1-x rec1 0.0 1.5"], "text": ["s1-x hi"],
                             "utt2spk": ["s1-x s1"], "spk2utt": ["s1 s1-x"], "text.tc.de": ["s1-x hallo"]})
    tag_pair_dir(tmp_path / "t", str(tmp_path / "ep"), "de")
    assert (tmp_path / "t/segments").read_text() == "s1-x-de rec1-de 0.0 1.5\n"
    assert (tmp_path / "t/wav.scp").read_text() == "rec1-de /a/rec1.wav\n"
    assert validate_data_dir(str(tmp_path / "t"), check_audio=False).ok


def test_cli_tag_pair_takes_one_dir(tmp_path):
    _pair(tmp_path / "de", "de", ["s1-a"])
    out = subprocess.run([sys.executable, "-m", "espnet_spire.bin.combine_data_dirs", "--tag_pair", "de",
                          "--output_dir", str(tmp_path / "o"), str(tmp_path / "de"), str(tmp_path / "de")],
                         capture_output=True, text=True)
    assert out.returncode != 0
    assert "--tag_pair copies exactly one data dir" in out.stderr
