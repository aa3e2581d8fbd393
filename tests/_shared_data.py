"""Where the tests find the project's shared test data (real speech and text, never copied here).

The data lives in ``../shared/data`` next to the checkout, and only there: a test that needs a
missing file fails and says where it looked, instead of silently testing something else.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[1]
SHARED_DATA = CHECKOUT.parent / "shared" / "data"


def shared_data(*parts: str) -> Path:
    """``../shared/data/<parts>`` relative to the checkout; fails the calling test when it is missing."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.fail(
            f"shared test data not found: {path} (the tests read ../shared/data next to the checkout "
            f"{CHECKOUT}; put or link the shared data folder there)",
            pytrace=False,
        )
    return path
