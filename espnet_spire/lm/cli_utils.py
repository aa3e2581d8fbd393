"""Small helpers shared by the LM command-line tools (logging, booleans, YAML defaults)."""

from __future__ import annotations

import argparse
import logging
import random
from typing import List, Optional, Sequence

import yaml


def str2bool(value: str) -> bool:
    """ESPnet-style boolean option values."""
    v = str(value).lower()
    if v in ("true", "1", "yes", "y"):
        return True
    if v in ("false", "0", "no", "n"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {value!r}")


def setup_logging(level: str = "INFO") -> None:
    """ESPnet's log line format on stderr."""
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s",
    )


def parse_with_config(parser: argparse.ArgumentParser, argv: Optional[Sequence[str]]) -> argparse.Namespace:
    """Parse ``argv``; a ``--config`` YAML supplies defaults that the command line overrides."""
    pre_parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    pre_parser.add_argument("--config")
    pre, _ = pre_parser.parse_known_args(argv)
    cfg_path = pre.config
    if cfg_path:
        with open(cfg_path, encoding="utf-8") as f:
            cfg = yaml.safe_load(f) or {}
        known = {a.dest for a in parser._actions}
        unknown = sorted(set(cfg) - known)
        if unknown:
            parser.error(f"{cfg_path}: unknown keys {unknown}")
        parser.set_defaults(**cfg)
        for action in parser._actions:  # a required option given in the YAML is no longer required
            if action.dest in cfg:
                action.required = False
    return parser.parse_args(argv)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and (if imported) torch."""
    import sys

    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:  # pragma: no cover
        pass
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def split_words(values: Optional[List[str]]) -> List[str]:
    """Flatten ``["de fr", "es"]`` (space- or comma-separated, repeated options) into words."""
    out: List[str] = []
    if isinstance(values, str):  # a YAML config may give one string
        values = [values]
    for v in values or []:
        out += [w for w in str(v).replace(",", " ").split() if w]
    return out
