"""Kaldi two-column files: parsing, byte-order sorting (checked against LC_ALL=C sort), spk2utt."""

from __future__ import annotations

import os
import subprocess

import pytest

from espnet_spire.common.kaldi_dir import (
    KaldiFormatError,
    filter_kaldi_file,
    iter_kaldi_file,
    read_kaldi_dict,
    read_key_list,
    sort_key,
    spk2utt_to_utt2spk,
    utt2spk_to_spk2utt,
    write_kaldi_file,
    write_spk2utt,
)


def c_sort(data: bytes) -> bytes:
    """What `LC_ALL=C sort` makes of ``data``."""
    env = dict(os.environ, LC_ALL="C")
    return subprocess.run(["sort"], input=data, stdout=subprocess.PIPE, env=env, check=True).stdout


def test_parse_values_with_spaces_tabs_and_crlf(tmp_path):
    p = tmp_path / "wav.scp"
    p.write_bytes(
        b"a sox in.wav -t wav - |\n"
        b"b\tpath with  two spaces.wav  \r\n"
        b"c\n"
        b"\n"
        b" d leading blank\n"
    )
    lines = list(iter_kaldi_file(p))
    assert [(ln.lineno, ln.key, ln.value) for ln in lines] == [
        (1, "a", "sox in.wav -t wav - |"),
        (2, "b", "path with  two spaces.wav"),
        (3, "c", ""),
        (4, "", ""),
        (5, "", "d leading blank"),
    ]


def test_unicode_space_belongs_to_the_value(tmp_path):
    p = tmp_path / "text"
    p.write_text("u1 你好\u3000世界\u3000\n", encoding="utf-8")
    assert read_kaldi_dict(p) == {"u1": "你好\u3000世界\u3000"}


def test_read_dict_reports_duplicate_with_line_number(tmp_path):
    p = tmp_path / "text"
    p.write_text("a x\nb y\na z\n")
    with pytest.raises(KaldiFormatError) as err:
        read_kaldi_dict(p)
    assert err.value.lineno == 3 and "duplicate id 'a'" in str(err.value)
    assert str(p) + ":3:" in str(err.value)


def test_read_dict_rejects_empty_value_when_asked(tmp_path):
    p = tmp_path / "utt2spk"
    p.write_text("a s1\nb\n")
    assert read_kaldi_dict(p) == {"a": "s1", "b": ""}
    with pytest.raises(KaldiFormatError, match=":2: id 'b' has an empty value"):
        read_kaldi_dict(p, allow_empty_value=False)


def test_write_sorts_like_lc_all_c_sort(tmp_path):
    # Upper before lower case, '-' (0x2d) before '_' (0x5f) before letters, multi-byte UTF-8
    # after ASCII, a private-use char (EE 80 80) before a raw 0xFF byte: Python's str order
    # puts the surrogate-escaped 0xFF (U+DCFF) *before* U+E000, byte order after it.
    raw_ff = b"\xffraw".decode("utf-8", "surrogateescape")
    keys = ["b", "a", "B", "\u00e4", "a-b", "a_b", "a.b", "z", "\ue000x", raw_ff, "A1", "10", "9"]
    items = [(k, f"value of {i}") for i, k in enumerate(keys)]
    assert sorted(keys) != sorted(keys, key=sort_key)  # the case this test is about
    out = tmp_path / "text"
    write_kaldi_file(out, items)
    data = out.read_bytes()
    assert data == c_sort(data)
    assert data.count(b"\n") == len(keys)
    # and reading it back gives the same ids (the raw byte survives)
    assert list(read_kaldi_dict(out)) == sorted(keys, key=sort_key)
    assert b"\xffraw value of 9\n" in data


def test_write_keeps_order_without_sort_and_rejects_bad_ids(tmp_path):
    out = tmp_path / "f"
    write_kaldi_file(out, [("b", "1"), ("a", "")], sort=False)
    assert out.read_text() == "b 1\na\n"
    with pytest.raises(ValueError, match="duplicate id 'a'"):
        write_kaldi_file(out, [("a", "1"), ("a", "2")])
    with pytest.raises(ValueError, match="invalid Kaldi id"):
        write_kaldi_file(out, [("a b", "1")])
    with pytest.raises(ValueError, match="line break"):
        write_kaldi_file(out, [("a", "x\ny")])
    assert out.read_text() == "b 1\na\n"  # failed writes leave the old file alone


def test_spk2utt_round_trip(tmp_path):
    utt2spk = {"s2-u1": "s2", "s1-u2": "s1", "s1-u1": "s1", "S0-u9": "S0"}
    spk2utt = utt2spk_to_spk2utt(utt2spk)
    assert list(spk2utt.items()) == [
        ("S0", ["S0-u9"]),
        ("s1", ["s1-u1", "s1-u2"]),
        ("s2", ["s2-u1"]),
    ]
    assert spk2utt_to_utt2spk(spk2utt) == utt2spk
    assert list(spk2utt_to_utt2spk(spk2utt)) == ["S0-u9", "s1-u1", "s1-u2", "s2-u1"]
    path = tmp_path / "spk2utt"
    write_spk2utt(path, spk2utt)
    assert path.read_text() == "S0 S0-u9\ns1 s1-u1 s1-u2\ns2 s2-u1\n"
    with pytest.raises(ValueError, match="belongs to"):
        spk2utt_to_utt2spk({"a": ["u"], "b": ["u"]})


def test_filter_copies_lines_verbatim_and_sorted(tmp_path):
    src = tmp_path / "text"
    src.write_bytes(b"c  two  spaces\nb keep\r\na drop\n")
    dst = tmp_path / "out"
    assert filter_kaldi_file(src, dst, {"c", "b", "zz"}) == 2
    assert dst.read_bytes() == b"b keep\nc  two  spaces\n"


def test_read_key_list_skips_blank_lines(tmp_path):
    p = tmp_path / "keys"
    p.write_text("u1 /a.wav\n\nu2\n")
    assert read_key_list(p) == ["u1", "u2"]
