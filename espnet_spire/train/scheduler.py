"""Linear warm-up + cosine decay, per optimizer step (``--scheduler warmupcosinelr``).

ESPnet 202511 has ``warmuplr`` (Noam-style inverse square root) and
``CosineAnnealingWarmupRestarts`` (restarts, absolute ``max_lr``/``min_lr``), but no plain
"warm-up then cosine to the end of training" schedule as used by Tower and SPIRE.

Step ``s`` (1-based, counted in optimizer updates, i.e. after gradient accumulation):

* ``s <= warmup_steps``: ``lr = base_lr * s / warmup_steps``
* afterwards: ``lr = base_lr * (r + (1 - r) * 0.5 * (1 + cos(pi * p)))`` with
  ``p = min(1, (s - warmup_steps) / (total_steps - warmup_steps))`` and ``r = min_lr_ratio``.

``total_steps`` may be left out (``null``): the trainer then sets it from the number of batches
per epoch, ``--max_epoch`` and the gradient accumulation (:func:`total_optimizer_steps`, used by
both trainers).
"""

from __future__ import annotations

import logging
import math
from typing import Optional, Sequence

import torch
from espnet2.schedulers.abs_scheduler import AbsBatchStepScheduler

try:
    from torch.optim.lr_scheduler import LRScheduler
except ImportError:  # pragma: no cover - old torch
    from torch.optim.lr_scheduler import _LRScheduler as LRScheduler

NAME = "warmupcosinelr"


class WarmupCosineLR(LRScheduler, AbsBatchStepScheduler):
    """Linear warm-up for ``warmup_steps`` updates, then cosine decay to ``min_lr_ratio``."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        warmup_steps: int = 100,
        total_steps: Optional[int] = None,
        min_lr_ratio: float = 0.0,
        last_epoch: int = -1,
    ):
        if warmup_steps < 0:
            raise ValueError("warmup_steps must be >= 0")
        if not 0.0 <= min_lr_ratio <= 1.0:
            raise ValueError("min_lr_ratio must be in [0, 1]")
        self.warmup_steps = int(warmup_steps)
        self.total_steps = None if total_steps is None else int(total_steps)
        self.min_lr_ratio = float(min_lr_ratio)
        super().__init__(optimizer, last_epoch)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(warmup_steps={self.warmup_steps}, "
            f"total_steps={self.total_steps}, min_lr_ratio={self.min_lr_ratio})"
        )

    def set_total_steps(self, total_steps: int) -> None:
        self.total_steps = int(total_steps)

    def factor(self, step: int) -> float:
        """Multiplier of the base lr at 1-based update ``step``."""
        if self.warmup_steps > 0 and step <= self.warmup_steps:
            return step / self.warmup_steps
        if self.total_steps is None:
            return 1.0
        span = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, max(0.0, (step - self.warmup_steps) / span))
        cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
        return self.min_lr_ratio + (1.0 - self.min_lr_ratio) * cosine

    def get_lr(self):
        f = self.factor(self.last_epoch + 1)
        return [base * f for base in self.base_lrs]


def register_scheduler() -> None:
    """Add ``warmupcosinelr`` to ESPnet's scheduler registry (idempotent).

    ESPnet builds ``--scheduler`` choices and the scheduler object from the module-level
    ``espnet2.tasks.abs_task.scheduler_classes`` dict, so the entry must be there before the
    parser is built.
    """
    from espnet2.tasks import abs_task

    abs_task.scheduler_classes.setdefault(NAME, WarmupCosineLR)


def steps_per_epoch(train_iter_factory) -> Optional[int]:
    """Number of mini-batches of one epoch, when the iterator factory tells it."""
    n = getattr(train_iter_factory, "num_iters_per_epoch", None)
    if n:
        return int(n)
    batches = getattr(train_iter_factory, "batches", None)
    if batches is not None:
        return len(batches)
    sampler = getattr(train_iter_factory, "sampler", None)
    if sampler is not None:
        try:
            return len(sampler)
        except TypeError:
            return None
    return None


def total_optimizer_steps(
    batches_per_epoch: int, accum_grad: int, max_epoch: int, accumulate_across_epochs: bool
) -> int:
    """Optimizer updates of a whole training: the one place where this is computed.

    ESPnet's ``Trainer`` restarts its accumulation counter every epoch (an update every
    ``accum_grad`` batches of *that* epoch: ``batches // accum_grad`` per epoch), while a
    DeepSpeed engine counts micro-batches over the whole run (``batches x epochs //
    accum_grad``); ``accumulate_across_epochs`` says which loop the schedule is for.
    """
    accum = max(1, accum_grad)
    if accumulate_across_epochs:
        total = batches_per_epoch * max_epoch // accum
    else:
        total = (batches_per_epoch // accum) * max_epoch
    return max(1, total)


def set_total_steps(
    schedulers: Sequence,
    train_iter_factory,
    max_epoch: int,
    accum_grad: int,
    accumulate_across_epochs: bool = False,
) -> None:
    """Fill ``total_steps`` of every ``WarmupCosineLR`` that was left at ``null``."""
    for sch in schedulers:
        if not isinstance(sch, WarmupCosineLR) or sch.total_steps is not None:
            continue
        n = steps_per_epoch(train_iter_factory)
        if n is None:
            raise RuntimeError(
                "warmupcosinelr: cannot infer total_steps from this iterator; "
                "set scheduler_conf.total_steps"
            )
        total = total_optimizer_steps(n, accum_grad, max_epoch, accumulate_across_epochs)
        sch.set_total_steps(total)
        sch.inferred_for_epochs = max_epoch
        across = ", accumulation across epochs" if accumulate_across_epochs else ""
        logging.info(
            f"warmupcosinelr: total_steps={total} "
            f"({n} batches/epoch, accum_grad {accum_grad}, {max_epoch} epochs{across})"
        )


def span_remaining_epochs(schedulers: Sequence, done_epochs: int) -> None:
    """A fresh schedule resumed after ``done_epochs`` (``--resume_with_new_config``): a
    ``total_steps`` inferred for the whole run is cut to the epochs left, so that warm-up and
    decay fit them (an explicit ``total_steps`` is kept as given)."""
    for sch in schedulers:
        epochs = getattr(sch, "inferred_for_epochs", None)
        if not isinstance(sch, WarmupCosineLR) or not epochs:
            continue
        left = max(1, epochs - done_epochs)
        sch.set_total_steps(max(1, sch.total_steps * left // epochs))
        logging.info(f"warmupcosinelr: restarted for the {left} epochs left: "
                     f"total_steps={sch.total_steps}")
