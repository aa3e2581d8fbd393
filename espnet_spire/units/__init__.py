"""Discrete speech units: features, k-means, assignment, DSU strings (stages 3-5 of spire.sh).

Modules, one job each: ``dsu_format`` (unit ids <-> PUA/extra_id/index strings), ``wavio``
(16 kHz dump audio), ``features``/``mfcc``/``hf_ssl`` (frame features), ``sampling`` and
``featdump`` (bounded k-means training sample), ``kmeans`` (learn/save/load the codebook),
``assign`` (nearest centroid), ``label``/``merge`` (unit files), ``jobs``/``provenance``
(resume markers and hashes), ``options`` (shared CLI flags). Importing this package does not
import torch.
"""
