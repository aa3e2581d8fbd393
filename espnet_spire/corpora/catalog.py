"""Imports every corpus module, so that :data:`~espnet_spire.corpora.registry.CORPORA` lists them all."""

# ruff: noqa: F401  (imported for their registrations)
from espnet_spire.corpora import (
    commonvoice,
    covost2,
    europarl_st,
    fleurs,
    flores200,
    gigaspeech,
    librispeech,
    mls,
    spgispeech,
    tower_cpt_text,
    towerblocks,
    voxpopuli,
    wmt23,
)
