"""Command-line options shared by the unit CLIs, so stages 3 and 5 read features identically."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, List, Optional

from espnet2.utils.build_dataclass import build_dataclass

from espnet_spire.common.cli import optional_bool, seed_everything, setup_logging
from espnet_spire.units.extractors import FEATURE_EXTRACTORS, build_extractor
from espnet_spire.units.features import DTYPES, FeatureConfig, FeatureExtractor

if TYPE_CHECKING:
    from espnet_spire.audio.wav_scp import WavEntry


def add_common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0, help="Random seed (sampling, k-means)")
    parser.add_argument("--num_threads", type=int, default=1, help="torch CPU threads (0: torch default)")
    parser.add_argument("--log_level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])


def add_job_input_args(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """``--data_dir --key_file``: the stage-2 dump dir and the utterances of this job (stages 3 and 5)."""
    parser.add_argument("--data_dir", required=required, help="Dump dir whose wav.scp lists 16 kHz mono files")
    parser.add_argument("--key_file", default=None, help="Utterance ids of this job (default: all of wav.scp)")


def add_feature_args(parser: argparse.ArgumentParser) -> None:
    """Feature-extraction flags (same names in dump_ssl_feats and label_units)."""
    g = parser.add_argument_group("features")
    g.add_argument("--feature_type", default="hf_ssl", choices=FEATURE_EXTRACTORS.names())
    g.add_argument("--ssl_model", default=None, help="Local Hugging Face HuBERT/wav2vec2/WavLM dir (hf_ssl)")
    g.add_argument("--layer", type=int, default=22, help="Transformer layer; output has no final LayerNorm (SPIRE: 22)")
    g.add_argument("--dtype", default="fp32", choices=DTYPES, help="SSL model dtype (SPIRE paper: fp32)")
    g.add_argument("--batch_size", type=int, default=4, help="Utterance pieces per forward pass")
    g.add_argument("--chunk_seconds", type=float, default=100.0, help="Cut longer audio into pieces (0: never)")
    g.add_argument("--normalize", type=optional_bool, default=None, help="Waveform normalisation: auto|true|false")
    g.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")


def feature_config_from_args(args: argparse.Namespace) -> FeatureConfig:
    """The options of :func:`add_feature_args` as a :class:`FeatureConfig` (ESPnet's builder: a
    field missing from ``args`` is an error, not a silent default)."""
    return build_dataclass(FeatureConfig, args)


def job_entries(args: argparse.Namespace) -> List[WavEntry]:
    """The ``wav.scp`` entries of this job (the options of :func:`add_job_input_args`)."""
    return set_entries(args.data_dir, args.key_file)


def set_entries(data_dir: str, key_file: Optional[str] = None) -> List[WavEntry]:
    """The ``wav.scp`` entries of ``data_dir`` listed in ``key_file`` (all without one)."""
    from espnet_spire.audio.wav_scp import select_entries

    return select_entries(os.path.join(data_dir, "wav.scp"), key_file)


def extractor_from_args(args: argparse.Namespace) -> FeatureExtractor:
    """The feature extractor the options of :func:`add_feature_args` describe."""
    return build_extractor(feature_config_from_args(args))


def setup(args: argparse.Namespace) -> None:
    """Logging, seeds and thread count for a CLI run."""
    setup_logging(args.log_level, force=True)
    import torch

    seed_everything(args.seed)
    if args.num_threads > 0:
        torch.set_num_threads(args.num_threads)
