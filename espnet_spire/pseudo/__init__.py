"""Pseudo-labelled data: machine-translated ASR transcripts filtered by CometKiwi (stage 9)."""
