"""Fixtures shared by the audio and data-dir tests (one definition each)."""

from __future__ import annotations

import shutil

import pytest

try:
    from tests import spire_audio_helpers as H
except ImportError:  # pragma: no cover - pytest's rootdir-less import mode
    import spire_audio_helpers as H


@pytest.fixture(scope="session")
def an4(tmp_path_factory):
    """The mini AN4 sph files of ``../shared/data``, extracted once per session."""
    return H.extract_mini_an4(tmp_path_factory.mktemp("an4"))


@pytest.fixture(scope="session")
def sox() -> str:
    """Path of the sox binary (the pipe entries of wav.scp need it)."""
    path = shutil.which("sox")
    assert path, "sox is required (apt-get install sox)"
    return path
