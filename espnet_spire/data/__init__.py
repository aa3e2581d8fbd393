"""Kaldi-style data directories: reading, writing and checking them."""
