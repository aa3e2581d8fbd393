"""The shared test data is found next to the checkout, and a missing file fails with where it looked."""

import pytest

from _shared_data import CHECKOUT, SHARED_DATA, shared_data


def test_shared_data_is_next_to_the_checkout():
    assert SHARED_DATA == CHECKOUT.parent / "shared" / "data"
    assert shared_data("ntrex") == SHARED_DATA / "ntrex"


def test_missing_shared_data_fails_with_the_path():
    with pytest.raises(pytest.fail.Exception, match=r"shared test data not found: .*shared/data/no_such_corpus"):
        shared_data("no_such_corpus")
