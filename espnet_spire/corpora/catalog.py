"""Imports every corpus module, so that :data:`~espnet_spire.corpora.registry.CORPORA` lists them all."""

# ruff: noqa: F401  (imported for their registrations)
from espnet_spire.corpora import commonvoice, gigaspeech, librispeech, mls, spgispeech, voxpopuli
