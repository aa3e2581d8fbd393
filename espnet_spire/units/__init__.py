"""Discrete speech units: features, k-means, assignment, DSU strings (stages 3-5 of spire.sh).

Modules, one job each: ``dsu_format`` (unit ids <-> PUA/extra_id/index strings),
``features`` (the extractor interface), ``mfcc``/``hf_ssl`` (extractors) and ``extractors`` (their
registry, ``--feature_type``), ``sampling`` and ``featdump`` (bounded k-means training sample),
``kmeans`` (learn/save/load the codebook; back ends in a registry), ``assign`` (nearest centroid;
back ends in a registry), ``label``/``merge`` (unit files), ``provenance`` (model fingerprints,
library versions), ``options`` (shared CLI flags). The 16 kHz dump audio is read by
:mod:`espnet_spire.audio.wav_scp`; done markers, merges and hashes come from
:mod:`espnet_spire.common`. Importing this package does not import torch.
"""
