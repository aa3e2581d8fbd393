"""The bottom layer every stage stands on, one implementation of each helper.

Modules, one job each: ``fileio`` (atomic writes, JSON, line files), ``kaldi_dir`` (Kaldi-style
two-column files in ``LC_ALL=C`` order), ``hashing`` (content hashes for signatures and
provenance), ``jobs`` (done markers, job pieces, merges and the one failure budget), ``cli``
(option types, logging, ``--config`` YAML) and ``registry`` (name -> implementation tables for
pluggable back ends). Nothing here imports from the rest of ``espnet_spire``, so any module can
use it without an import cycle.
"""
