"""Imports every corpus module, so that :data:`~espnet_spire.corpora.registry.CORPORA` lists them all."""

# ruff: noqa: F401  (imported for their registrations)
from espnet_spire.corpora import covost2, europarl_st, fleurs, flores200, tower_cpt_text, towerblocks, wmt23
