"""Audio input/output for Kaldi-style data directories (wav.scp, segments, formatting)."""
