"""Command-line entry points (``python -m espnet_spire.bin.<name>``)."""
