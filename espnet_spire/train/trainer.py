"""ESPnet's trainer with three additions for LLM training.

1. Checkpoints are written atomically (temporary file + rename), so a job killed while saving
   never leaves a truncated ``checkpoint.pth`` behind and ``--resume true`` always works.
2. ``warmupcosinelr`` schedulers without ``total_steps`` get it from the data
   (batches per epoch // ``accum_grad`` x ``max_epoch``).
3. At the end of training the chosen weights (``--hf_export_model``, default ``latest``) are
   exported as a Hugging Face model directory (``--hf_export_dir``, default
   ``<output_dir>/hf_model``) for the next stage.

Everything else (DDP, AMP, exp layout: ``config.yaml``, ``checkpoint.pth``, ``{N}epoch.pth``,
``latest.pth``, n-best links and averages, ``images/``) is ESPnet's ``Trainer``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
from pathlib import Path
from typing import Optional

import torch
from espnet2.train.trainer import Trainer, TrainerOptions
from espnet2.utils.build_dataclass import build_dataclass

from espnet_spire.common.fileio import atomic_path
from espnet_spire.train.scheduler import set_total_steps


@dataclasses.dataclass
class SpireTrainerOptions(TrainerOptions):
    model_dir: str
    hf_export: bool
    hf_export_model: str
    hf_export_dtype: str
    hf_export_dir: Optional[str]


@contextlib.contextmanager
def atomic_torch_save():
    """Within the block, ``torch.save(obj, path)`` writes ``path`` atomically."""
    original = torch.save

    def _save(obj, f, *args, **kwargs):
        if isinstance(f, (str, os.PathLike)):
            with atomic_path(f) as tmp:
                original(obj, tmp, *args, **kwargs)
        else:
            original(obj, f, *args, **kwargs)

    torch.save = _save
    try:
        yield
    finally:
        torch.save = original


def _is_rank0(distributed_option) -> bool:
    return not distributed_option.distributed or distributed_option.dist_rank == 0


def export_after_training(options) -> Optional[Path]:
    """Export ``options.hf_export_model`` of ``options.output_dir`` (rank 0 only)."""
    if not options.hf_export:
        return None
    from espnet_spire.train.export import export_training_result

    return export_training_result(options.output_dir, options.model_dir, options.hf_export_model,
                                  options.hf_export_dir, options.hf_export_dtype)


class SpireTrainer(Trainer):
    """ESPnet ``Trainer`` + atomic checkpoints, cosine schedule length and HF export."""

    @classmethod
    def build_options(cls, args: argparse.Namespace) -> SpireTrainerOptions:
        return build_dataclass(SpireTrainerOptions, args)

    @classmethod
    def run(
        cls,
        model,
        optimizers,
        schedulers,
        train_iter_factory,
        valid_iter_factory,
        plot_attention_iter_factory,
        trainer_options,
        distributed_option,
    ) -> None:
        set_total_steps(
            schedulers, train_iter_factory, trainer_options.max_epoch, trainer_options.accum_grad
        )
        with atomic_torch_save():
            super().run(
                model=model,
                optimizers=optimizers,
                schedulers=schedulers,
                train_iter_factory=train_iter_factory,
                valid_iter_factory=valid_iter_factory,
                plot_attention_iter_factory=plot_attention_iter_factory,
                trainer_options=trainer_options,
                distributed_option=distributed_option,
            )
        if _is_rank0(distributed_option):
            # The other ranks may exit meanwhile (no collective after this point).
            export_after_training(trainer_options)
