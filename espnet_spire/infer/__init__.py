"""Inference from audio (or text) to text with a trained or released SPIRE model (``spire-infer``)."""

from espnet_spire.infer.model import InferConfig, Output, Result, Skipped, SpireModel

__all__ = ["InferConfig", "Output", "Result", "Skipped", "SpireModel"]
