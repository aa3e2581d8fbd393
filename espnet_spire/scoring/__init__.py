"""Scoring of decoded outputs: WER/CER (sclite or a sclite-compatible Python scorer), BLEU, chrF,
spBLEU (sacrebleu), COMET-22 / CometKiwi (unbabel-comet in its own environment) and RESULTS.md.

Every scorer writes an ESPnet-style ``score_<metric>/`` directory with a human-readable
``result.txt`` and a machine-readable ``result.json``; :mod:`espnet_spire.scoring.decode_dir`
scores one decode directory completely and :mod:`espnet_spire.scoring.results` collects the
``scores.json`` files into ``RESULTS.md``.  Modules import heavy libraries lazily.
"""
