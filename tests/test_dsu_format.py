"""DSU string formats: SPIRE compat vectors 1-8 (spirelm-compat.md section 10) and range checks."""

import unicodedata

import numpy as np
import pytest
import torch

from espnet_spire.units.dsu_format import (
    PUA_MAX_INDEX,
    deduplicate,
    depua,
    detokenize,
    dsus2indices,
    extra_id,
    indices2dsus,
    pua,
)


def test_vector1_pua_zero():
    assert pua(0) == "\U000f0000"
    assert pua(0).encode("utf-8") == b"\xf3\xb0\x80\x80"
    assert unicodedata.category(pua(0)) == "Co"


def test_vector2_pua_values():
    assert pua(4999) == "\U000f1387"
    assert pua(4999).encode("utf-8") == bytes.fromhex("f3b18e87")
    assert pua(17) == "\U000f0011"
    assert depua("\U000f007b") == 123


def test_vector3_indices2dsus_pua():
    s = indices2dsus([0, 17, 4999])
    assert s == "\U000f0000\U000f0011\U000f1387"
    assert len(s) == 3


def test_vector4_extra_id():
    assert extra_id(17) == "<extra_id_17>"
    assert indices2dsus([3, 3], "extra_id") == "<extra_id_3><extra_id_3>"


def test_vector5_deduplicate():
    assert deduplicate([5, 5, 7, 7, 5]) == [5, 7, 5]
    assert deduplicate([]) == []


LABELS = [[5, 5, 7, 7, 5, -1, -1], [1, 1, 1, 1, 2, 2, 2]]


@pytest.mark.parametrize("make", [lambda x: x, np.array, torch.tensor], ids=["list", "numpy", "torch"])
def test_vector6_detokenize(make):
    labels = make(LABELS)
    assert detokenize(labels) == ["\U000f0005\U000f0007\U000f0005", "\U000f0001\U000f0002"]
    assert detokenize(labels, indices_only=True) == [[5, 7, 5], [1, 2]]
    assert detokenize(labels, deduplicated=False, indices_only=True) == [[5, 5, 7, 7, 5], [1, 1, 1, 1, 2, 2, 2]]


def test_vector7_indices_line():
    first = detokenize(LABELS, fmt="indices")[0]
    assert first == "5 7 5"
    assert detokenize([[-1, -1]], fmt="indices") == [""]  # 0-length audio: empty line
    assert indices2dsus([], "indices") == ""


def test_vector8_deduplicate_pua_line():
    line = "\U000f0003\U000f0003\U000f0003\U000f0009\U000f0003\n"
    out = deduplicate(line.rstrip("\n")) + "\n"
    assert out == "\U000f0003\U000f0009\U000f0003\n"


def test_padding_removed_before_dedup():
    # 5 -1 5 must collapse to one 5 (SpireLM fixed this order in 57a5c31)
    assert detokenize([[5, -1, 5]], indices_only=True) == [[5]]


def test_pua_range():
    assert PUA_MAX_INDEX == 65533
    assert unicodedata.category(pua(65533)) == "Co"
    for bad, message in ((65534, "exceeds the largest id 65533"), (-1, "unit id -1 is negative")):
        with pytest.raises(ValueError, match=message):
            pua(bad)
    with pytest.raises(TypeError, match="unit id must be an integer, got float"):
        pua(1.0)
    for bad, message in (("\U000ffffe", "character U\\+FFFFE is not a DSU"), ("a", "character U\\+0061 is not a DSU"),
                         ("\U000f0000\U000f0001", "depua expects a single character"),
                         ("", "depua expects a single character, got ''")):
        with pytest.raises(ValueError, match=message):
            depua(bad)


@pytest.mark.parametrize("fmt", ["pua", "extra_id", "indices"])
def test_unit_id_must_be_below_k(fmt):
    assert dsus2indices(indices2dsus([0, 4], fmt, num_units=5), fmt, num_units=5) == [0, 4]
    with pytest.raises(ValueError, match="outside"):
        indices2dsus([0, 5], fmt, num_units=5)
    with pytest.raises(ValueError, match="unit id -3 is negative"):
        indices2dsus([-3], fmt)


def test_detokenize_rejects_other_negatives_and_checks_k():
    with pytest.raises(ValueError, match="invalid label -2: only -1 \\(padding\\) may be negative"):
        detokenize([[1, -2]])
    with pytest.raises(ValueError, match=r"unit id 9 is outside \[0, 5\)"):
        detokenize([[1, 9]], num_units=5)


@pytest.mark.parametrize("fmt", ["pua", "extra_id", "indices"])
def test_round_trip(fmt):
    ids = [0, 17, 17, 4999, 3]
    assert dsus2indices(indices2dsus(ids, fmt), fmt) == ids
    assert dsus2indices("", fmt) == []
    with pytest.raises(ValueError, match=r"unit id 7 is outside \[0, 5\)"):
        dsus2indices(indices2dsus([7], fmt), fmt, num_units=5)


def test_unknown_format():
    with pytest.raises(ValueError, match="unknown DSU format 'cjk'"):
        indices2dsus([1], "cjk")
