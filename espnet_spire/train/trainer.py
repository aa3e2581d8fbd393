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
import logging
import os
from pathlib import Path
from typing import Optional

import torch
from espnet2.train.trainer import Trainer, TrainerOptions
from espnet2.utils.build_dataclass import build_dataclass

from espnet_spire.common.fileio import atomic_path
from espnet_spire.train.scheduler import set_total_steps, span_remaining_epochs


@dataclasses.dataclass
class SpireTrainerOptions(TrainerOptions):
    model_dir: str
    hf_export: bool
    hf_export_model: str
    hf_export_dtype: str
    hf_export_dir: Optional[str]
    spire_fresh_optimizer: bool


@contextlib.contextmanager
def atomic_torch_save():
    """Within the block, ``torch.save(obj, path)`` writes ``path`` atomically; a full disk
    raises :class:`~espnet_spire.common.fileio.DiskFullError` and leaves no temporary file."""
    original = torch.save

    def _save(obj, f, *args, **kwargs):
        if isinstance(f, (str, os.PathLike)):
            # through a Python file, so that a full disk surfaces as its OSError (torch's own
            # writer says only "unexpected pos"); atomic_path then says "disk full: <path>"
            with atomic_path(f) as tmp, open(tmp, "wb") as fh:
                original(obj, fh, *args, **kwargs)
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

    # set by run() for resume(): --resume_with_new_config accepted a changed config
    _fresh_optimizer = False

    @classmethod
    def build_options(cls, args: argparse.Namespace) -> SpireTrainerOptions:
        return build_dataclass(SpireTrainerOptions, args)

    @classmethod
    def resume(cls, checkpoint, model, reporter, optimizers, schedulers, scaler, ngpu=0,
               strict=True):
        """ESPnet's resume; under an accepted config change only the weights and the epoch
        count are restored (the optimizer, scheduler and scaler start from the new config)."""
        if not cls._fresh_optimizer:
            return super().resume(checkpoint=checkpoint, model=model, reporter=reporter,
                                  optimizers=optimizers, schedulers=schedulers, scaler=scaler,
                                  ngpu=ngpu, strict=strict)
        states = torch.load(checkpoint, map_location=f"cuda:{torch.cuda.current_device()}"
                            if ngpu > 0 else "cpu", weights_only=False)
        model.load_state_dict(states["model"], strict=strict)
        reporter.load_state_dict(states["reporter"])
        span_remaining_epochs(schedulers, reporter.get_epoch())
        logging.warning(f"Resumed the weights of {checkpoint} (epoch {reporter.get_epoch()}); "
                        "optimizer and scheduler restarted from the new config")

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
        cls._fresh_optimizer = bool(getattr(trainer_options, "spire_fresh_optimizer", False))
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
