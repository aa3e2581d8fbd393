"""The table of corpus preparations: one :class:`Corpus` per corpus module.

A corpus module registers itself with ``CORPORA.register(name)(Corpus(...))``;
:mod:`espnet_spire.corpora.catalog` imports every module so the table is complete, and
``python -m espnet_spire.bin.prepare_corpus <name> ...`` (the recipes' ``local/data.sh``) reads it.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Callable, Dict

from espnet_spire.common.registry import Registry

# data dir path -> its corpus.json record
Prepared = Dict[str, Dict[str, object]]


@dataclass(frozen=True)
class Corpus:
    """How to prepare one corpus.

    ``layout`` is a one-paragraph description of the distributed layout it reads (shown by
    ``--help``); ``add_arguments`` adds the corpus's own options to its sub-command;
    ``prepare`` reads ``args.corpus_dir`` and writes data dirs under ``args.data_root``.
    """

    name: str
    layout: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    prepare: Callable[[argparse.Namespace], Prepared]


CORPORA: Registry[Corpus] = Registry("corpus")
