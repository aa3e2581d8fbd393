"""Helpers shared by every ``espnet_spire.bin`` command line: option types, logging, seeds and
``--config`` YAML files.  Booleans are ESPnet's (``espnet2.utils.types.str2bool``), so options
read ``--dedup false`` exactly as ESPnet's own tools do."""

from __future__ import annotations

import argparse
import logging
import random
import sys
from typing import Callable, List, Optional, Sequence, Tuple, Type

import yaml
from espnet2.utils.types import str2bool

from espnet_spire.common.fileio import DiskFullError
from espnet_spire.common.jobs import JobError

__all__ = [
    "LOG_FORMAT",
    "optional_bool",
    "parse_with_config",
    "run_cli",
    "seed_everything",
    "setup_logging",
    "split_words",
    "str2bool",
]

# ESPnet's log line format.
LOG_FORMAT = "%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s"


def optional_bool(value: str) -> Optional[bool]:
    """``auto``/``none`` (take the model's own setting) or an ESPnet boolean."""
    return None if str(value).lower() in ("auto", "none") else str2bool(value)


def setup_logging(level: str = "INFO", force: bool = False) -> None:
    """Log to stderr in ESPnet's format."""
    logging.basicConfig(
        level=getattr(logging, str(level).upper(), logging.INFO), format=LOG_FORMAT, force=force
    )


# Errors a user can fix from the message alone: no traceback for these.
EXPECTED_ERRORS: Tuple[Type[BaseException], ...] = (
    JobError, FileNotFoundError, ValueError, DiskFullError
)


def run_cli(
    run: Callable[[], object],
    logger: logging.Logger,
    expected: Tuple[Type[BaseException], ...] = EXPECTED_ERRORS,
) -> int:
    """Run a command's work; an expected error is logged in one line (the traceback only at
    DEBUG level) and gives exit status 1."""
    try:
        run()
    except expected as exc:
        logger.debug("details", exc_info=True)
        logger.error("%s", exc)
        return 1
    return 0


def parse_with_config(parser: argparse.ArgumentParser, argv: Optional[Sequence[str]]) -> argparse.Namespace:
    """Parse ``argv``; a ``--config`` YAML supplies defaults that the command line overrides.

    Unlike ``espnet2.utils.config_argparse``, an option given in the YAML is no longer required
    on the command line, which the recipe's per-stage config files rely on.
    """
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
        for action in parser._actions:
            if action.dest in cfg:
                action.required = False
    return parser.parse_args(argv)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and (if already imported) torch."""
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % (2**32))
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
