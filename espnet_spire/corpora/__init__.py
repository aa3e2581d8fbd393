"""Corpus preparation: each corpus as distributed -> Kaldi-style data dirs (stage 1 at full scale)."""
