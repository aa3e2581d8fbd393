"""ESPnet's DeepSpeed trainer made device-agnostic (CPU with gloo, one GPU, many GPUs).

:class:`SpireDeepSpeedTrainer` subclasses ESPnet 202511's
``espnet2.train.deepspeed_trainer.DeepSpeedTrainer``; the task hands ``--use_deepspeed true`` to
ESPnet unchanged and ESPnet's ``main_worker`` selects this class (see
:meth:`espnet_spire.tasks.spire_lm.SpireLMTask.main_worker`).  Overridden, each for a reason
given in its docstring: ``train_one_epoch`` / ``valid_one_epoch`` (ESPnet's hard-code CUDA),
``resume`` (ESPnet's takes an incomplete checkpoint) and ``run``.  What this trainer adds:

* the optimizer and the LR scheduler of the ESPnet YAML (``--optim``, ``--scheduler``) unless the
  DeepSpeed JSON defines its own ``optimizer`` / ``scheduler``;
* ``"auto"`` in the JSON resolved: ``train_micro_batch_size_per_gpu`` = ``--batch_size`` /
  world size (ESPnet's ``--batch_size`` is the global batch), ``gradient_accumulation_steps`` =
  ``--accum_grad``, ``gradient_clipping`` = ``--grad_clip``;
* the loss weighted like ESPnet's DDP trainer: each rank's mean loss times its number of target
  tokens, divided by the tokens of all ranks, times the world size (DeepSpeed averages gradients
  over ranks and divides by the accumulation steps itself);
* ESPnet's exp layout: per epoch a DeepSpeed checkpoint ``checkpoint_<N>/<N>/`` (model,
  optimizer and scheduler state + the reporter), plus, on rank 0, the full model weights as
  ``<N>epoch.pth`` (``--deepspeed_epoch_weights``: ``module`` = the weights the engine computes
  with, bf16 under bf16; ``fp32`` = the fp32 master weights), ``latest.pth``,
  ``<phase>.<crit>.best.pth``, n-best pruning and averaging, early stopping, ``images/*.png``;
  the Hugging Face export at the end like :class:`SpireTrainer`;
* ``--resume true`` restarts from the newest *complete* ``checkpoint_<N>`` (DeepSpeed writes its
  ``latest`` file last); older DeepSpeed checkpoints are pruned (``--deepspeed_keep_checkpoints``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import torch
import torch.distributed as dist
from espnet2.main_funcs.average_nbest_models import average_nbest_models
from espnet2.torch_utils.device_funcs import to_device
from espnet2.torch_utils.recursive_op import recursive_average
from espnet2.torch_utils.set_all_random_seed import set_all_random_seed
from espnet2.train.deepspeed_trainer import DeepSpeedTrainer, DeepSpeedTrainerOptions
from espnet2.train.reporter import Reporter
from espnet2.utils.build_dataclass import build_dataclass

from espnet_spire.train.scheduler import set_total_steps
from espnet_spire.train.trainer import atomic_torch_save, export_after_training


@dataclasses.dataclass
class SpireDeepSpeedTrainerOptions(DeepSpeedTrainerOptions):
    """ESPnet's DeepSpeed options plus what the YAML optimizer, the exp layout and export need."""

    ngpu: int
    batch_size: int
    accum_grad: int
    grad_clip: float
    deepspeed_keep_checkpoints: int
    deepspeed_epoch_weights: str
    nbest_averaging_interval: int
    patience: Optional[int]
    early_stopping_criterion: Sequence[str]
    use_matplotlib: bool
    model_dir: str
    hf_export: bool
    hf_export_model: str
    hf_export_dtype: str
    hf_export_dir: Optional[str]


def resolve_deepspeed_config(
    config: Dict[str, Any], batch_size: int, accum_grad: int, grad_clip: float, world_size: int
) -> Dict[str, Any]:
    """Replace ``"auto"`` values (and fill missing batch fields) from the ESPnet options."""
    cfg = json.loads(json.dumps(config))
    micro = cfg.get("train_micro_batch_size_per_gpu", "auto")
    if micro == "auto":
        micro = max(1, batch_size // max(1, world_size))
    gas = cfg.get("gradient_accumulation_steps", "auto")
    if gas == "auto":
        gas = max(1, accum_grad)
    elif gas != accum_grad:
        logging.warning(
            f"DeepSpeed gradient_accumulation_steps={gas} overrides --accum_grad {accum_grad}"
        )
    cfg["train_micro_batch_size_per_gpu"] = int(micro)
    cfg["gradient_accumulation_steps"] = int(gas)
    if cfg.get("train_batch_size", "auto") == "auto":
        cfg["train_batch_size"] = int(micro) * int(gas) * world_size
    if cfg.get("gradient_clipping", "auto") == "auto":
        cfg["gradient_clipping"] = float(grad_clip)
    return cfg


def _complete_checkpoints(output_dir: Path) -> List[int]:
    """Epochs N with a complete DeepSpeed checkpoint ``checkpoint_N`` (its ``latest`` file)."""
    epochs = []
    if output_dir.exists():
        for p in output_dir.iterdir():
            if p.is_dir() and p.name.startswith("checkpoint_"):
                suffix = p.name.split("_", 1)[1]
                if suffix.isdigit() and (p / "latest").exists():
                    epochs.append(int(suffix))
    return sorted(epochs)


def _symlink(link: Path, target: str) -> None:
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target)


def _as_float(x) -> Optional[float]:
    if x is None:
        return None
    if isinstance(x, torch.Tensor):
        return float(x.detach().float().cpu())
    return float(x)


def _average_nbest(
    reporter: Reporter, output_dir: Path, options, keep_nbest: List[int], suffix: Optional[str] = None
) -> None:
    """ESPnet's n-best averaging, its ``.pth`` files written atomically (rank 0 only)."""
    with atomic_torch_save():
        average_nbest_models(
            reporter=reporter,
            output_dir=output_dir,
            best_model_criterion=options.best_model_criterion,
            nbest=keep_nbest,
            suffix=suffix,
        )


class SpireDeepSpeedTrainer(DeepSpeedTrainer):
    """ESPnet's DeepSpeed trainer on the engine's device, with ESPnet's exp layout."""

    @classmethod
    def build_options(cls, args: argparse.Namespace) -> SpireDeepSpeedTrainerOptions:
        return build_dataclass(SpireDeepSpeedTrainerOptions, args)

    # ------------------------------------------------------------------ set-up
    @classmethod
    def build_engine(cls, model, optimizers, schedulers, train_iter_factory, options):
        import deepspeed

        if options.deepspeed_config is None:
            raise ValueError("--use_deepspeed true needs --deepspeed_config <json>")
        with open(options.deepspeed_config, encoding="utf-8") as f:
            raw = json.load(f)
        world = dist.get_world_size()
        cfg = resolve_deepspeed_config(
            raw, options.batch_size, options.accum_grad, options.grad_clip, world
        )
        kwargs: Dict[str, Any] = dict(model=model, config=cfg, dist_init_required=False)
        if "optimizer" in cfg:
            logging.info("DeepSpeed JSON defines the optimizer: ignoring --optim")
            kwargs["model_parameters"] = [p for p in model.parameters() if p.requires_grad]
        else:
            if len(optimizers) != 1:
                raise ValueError("the DeepSpeed trainer supports one optimizer")
            kwargs["optimizer"] = optimizers[0]
        sched = schedulers[0] if schedulers else None
        if "scheduler" in cfg:
            logging.info("DeepSpeed JSON defines the scheduler: ignoring --scheduler")
        elif sched is not None:
            set_total_steps(
                [sched],
                train_iter_factory,
                options.max_epoch,
                cfg["gradient_accumulation_steps"],
                accumulate_across_epochs=True,
            )
            kwargs["lr_scheduler"] = sched
        engine, _, _, _ = deepspeed.initialize(**kwargs)
        return engine, cfg

    # ------------------------------------------------------------------ main loop
    @classmethod
    def run(
        cls,
        model,
        optimizers,
        schedulers,
        train_iter_factory,
        valid_iter_factory,
        plot_attention_iter_factory,
        trainer_options: SpireDeepSpeedTrainerOptions,
        distributed_option,
    ) -> None:
        """Train with ESPnet's epoch loop and exp layout; ESPnet's own ``run`` is not used.

        ESPnet 202511's ``DeepSpeedTrainer.run`` cannot be reused by overriding smaller hooks:
        it builds the engine from the raw JSON without ``--optim``/``--scheduler`` (the recipe's
        JSONs have ``"auto"`` values and no optimizer), writes no ``<N>epoch.pth``,
        ``latest.pth`` or best links, never prunes, has no early stopping, draws
        ``images/`` even with ``--use_matplotlib false``, and averages from
        ``mp_rank_00_model_states.pt``, which ZeRO-3 does not write.  ESPnet's ``Trainer.run``
        (which has that bookkeeping) wraps the model in DDP and saves from rank 0 only, where
        DeepSpeed's checkpoint and ZeRO-3 gathering are collectives.  So the loop is ESPnet's
        ``Trainer.run`` (same steps, same files; compared side by side in
        ``tests/test_deepspeed_cpu.py``) with DeepSpeed's collective saving.  ESPnet's
        ``main_worker`` has already started the process group and DeepSpeed's comm layer.
        """
        del plot_attention_iter_factory, distributed_option
        options = trainer_options
        rank, world = dist.get_rank(), dist.get_world_size()
        output_dir = Path(options.output_dir)
        keep_nbest = (
            [options.keep_nbest_models]
            if isinstance(options.keep_nbest_models, int)
            else list(options.keep_nbest_models) or [1]
        )

        engine, cfg = cls.build_engine(
            model, optimizers, schedulers, train_iter_factory, options
        )
        logging.info(
            f"DeepSpeed engine on {engine.device}: ZeRO stage "
            f"{engine.zero_optimization_stage()}, world {world}, micro batch "
            f"{cfg['train_micro_batch_size_per_gpu']}, accumulation "
            f"{cfg['gradient_accumulation_steps']}, bf16 "
            f"{bool(cfg.get('bf16', {}).get('enabled', False))}"
        )

        reporter = Reporter()
        if options.resume:
            cls.resume(engine, reporter, output_dir)

        start_epoch = reporter.get_epoch() + 1
        if start_epoch == options.max_epoch + 1:
            logging.warning(f"The training has already reached max_epoch: {start_epoch}")

        for iepoch in range(start_epoch, options.max_epoch + 1):
            start = time.perf_counter()
            logging.info(f"{iepoch}/{options.max_epoch}epoch started")
            set_all_random_seed(options.seed + iepoch)
            reporter.set_epoch(iepoch)
            with reporter.observe("train") as sub:
                cls.train_one_epoch(engine, train_iter_factory.build_iter(iepoch), sub, options)
            with reporter.observe("valid") as sub:
                cls.valid_one_epoch(engine, valid_iter_factory.build_iter(iepoch), sub, options)

            cls.save_epoch(engine, reporter, output_dir, iepoch, options, keep_nbest, rank)
            logging.info(f"epoch {iepoch} took {time.perf_counter() - start:.1f}s")

            if options.patience is not None and reporter.check_early_stopping(
                options.patience, *options.early_stopping_criterion
            ):
                break
        else:
            logging.info(f"The training was finished at {options.max_epoch} epochs")

        if rank == 0:
            _average_nbest(reporter, output_dir, options, keep_nbest)
            # No barrier after this: the other ranks may exit while rank 0 exports (a long
            # rank-0-only step before a collective could hit the NCCL timeout).
            export_after_training(options)

    # ------------------------------------------------------------------ checkpoints
    @classmethod
    def resume(cls, model, reporter: Reporter, output_dir: Path) -> None:
        """Load the newest *complete* ``checkpoint_<N>`` into the engine ``model``.

        ESPnet's version takes the highest ``checkpoint_<N>`` directory, which a job killed
        while saving leaves incomplete, and ignores a failed load.
        """
        done = _complete_checkpoints(output_dir)
        if not done:
            logging.info("--resume true but no DeepSpeed checkpoint yet: starting afresh")
            return
        ckpt = output_dir / f"checkpoint_{done[-1]}"
        path, client = model.load_checkpoint(str(ckpt))
        if path is None:
            raise RuntimeError(f"--resume true: DeepSpeed could not load {ckpt}")
        reporter.load_state_dict(client["reporter"])
        logging.info(f"Resumed from {path} (epoch {reporter.get_epoch()})")

    @classmethod
    def consolidated_state_dict(
        cls, engine, ckpt_dir: Path, tag: str, mode: str, rank: int
    ) -> Optional[Dict[str, torch.Tensor]]:
        """Full model weights for ``<N>epoch.pth`` (returned on rank 0, None elsewhere).

        ``module``: the weights the engine computes with (bf16 under bf16), gathered from the
        ranks for ZeRO-3 (a collective: every rank calls this).  ``fp32``: the fp32 master
        weights, re-read from the checkpoint just written (exact, but rank 0 reads every
        optimizer partition: slow for 7B models).
        """
        if mode == "fp32" and engine.zero_optimization_stage() > 0:
            if rank != 0:
                return None
            from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint

            state = get_fp32_state_dict_from_zero_checkpoint(str(ckpt_dir), tag=tag)
        elif engine.zero_optimization_stage() == 3:
            state = engine._zero3_consolidated_16bit_state_dict()
            if rank != 0:
                return None
        else:
            if rank != 0:
                return None
            state = engine.module.state_dict()
        if mode == "fp32":
            state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
        return {k: v.detach().cpu().clone() for k, v in state.items()}

    @classmethod
    def save_epoch(cls, engine, reporter, output_dir, iepoch, options, keep_nbest, rank):
        ckpt_dir = output_dir / f"checkpoint_{iepoch}"
        engine.save_checkpoint(
            str(ckpt_dir), tag=str(iepoch), client_state={"reporter": reporter.state_dict()}
        )
        dist.barrier()
        state = cls.consolidated_state_dict(
            engine, ckpt_dir, str(iepoch), options.deepspeed_epoch_weights, rank
        )
        if rank == 0:
            logging.info(reporter.log_message())
            if options.use_matplotlib:
                reporter.matplotlib_plot(output_dir / "images")
            with atomic_torch_save():
                torch.save(state, output_dir / f"{iepoch}epoch.pth")
            del state
            _symlink(output_dir / "latest.pth", f"{iepoch}epoch.pth")
            improved = []
            for phase, crit, mode in options.best_model_criterion:
                if reporter.has(phase, crit) and (
                    reporter.get_best_epoch(phase, crit, mode) == iepoch
                ):
                    _symlink(output_dir / f"{phase}.{crit}.best.pth", f"{iepoch}epoch.pth")
                    improved.append(f"{phase}.{crit}")
            logging.info(
                "The best model has been updated: " + ", ".join(improved)
                if improved
                else "There are no improvements in this epoch"
            )
            nbests = set().union(
                *[
                    set(reporter.sort_epochs(ph, k, m)[: max(keep_nbest)])
                    for ph, k, m in options.best_model_criterion
                    if reporter.has(ph, k)
                ]
            )
            if (
                options.nbest_averaging_interval > 0
                and iepoch % options.nbest_averaging_interval == 0
            ):
                _average_nbest(reporter, output_dir, options, keep_nbest, f"till{iepoch}epoch")
            for e in range(1, iepoch):
                p = output_dir / f"{e}epoch.pth"
                if p.exists() and e not in nbests:
                    p.unlink()
            keep = max(1, options.deepspeed_keep_checkpoints)
            for e in _complete_checkpoints(output_dir)[:-keep]:
                shutil.rmtree(output_dir / f"checkpoint_{e}", ignore_errors=True)
        dist.barrier()

    # ------------------------------------------------------------------ epochs
    @classmethod
    def train_one_epoch(cls, model, iterator, reporter, options) -> None:
        """One epoch on ``model`` (the engine)'s device; ESPnet's puts a flag tensor on CUDA."""
        engine = model
        engine.train()
        device = engine.device
        world = dist.get_world_size()
        distributed = world > 1
        log_interval = options.log_interval
        if log_interval is None:
            try:
                log_interval = max(len(iterator) // 20, 10)
            except TypeError:
                log_interval = 100
        iterator_stop = torch.zeros((), dtype=torch.long, device=device)
        for iiter, (_, batch) in enumerate(reporter.measure_iter_time(iterator, "iter_time"), 1):
            if distributed:
                dist.all_reduce(iterator_stop)
                if iterator_stop > 0:
                    break
            batch = to_device(batch, device)
            with reporter.measure_time("forward_time"):
                loss, stats, weight = engine(**batch)
            stats = {k: v for k, v in stats.items() if v is not None}
            loss = (loss * weight.type(loss.dtype)).sum()
            stats, weight = recursive_average(stats, weight, distributed)
            loss = loss / weight.clamp(min=1).type(loss.dtype) * world
            reporter.register(stats, weight)
            with reporter.measure_time("backward_time"):
                engine.backward(loss)
            boundary = engine.is_gradient_accumulation_boundary()
            with reporter.measure_time("optim_step_time"):
                engine.step()
            if boundary:
                extra = dict(learning_rate=engine.get_lr()[0])
                grad_norm = _as_float(engine.get_global_grad_norm())
                if grad_norm is not None:
                    extra["grad_norm"] = grad_norm
                reporter.register(extra)
            reporter.next()
            if iiter % log_interval == 0:
                logging.info(reporter.log_message(-log_interval))
        else:
            if distributed:
                iterator_stop.fill_(1)
                dist.all_reduce(iterator_stop)

    @classmethod
    @torch.no_grad()
    def valid_one_epoch(cls, model, iterator, reporter, options) -> None:
        """Validation on the engine's device (ESPnet's hard-codes CUDA)."""
        del options
        engine = model
        engine.eval()
        device = engine.device
        distributed = dist.get_world_size() > 1
        iterator_stop = torch.zeros((), dtype=torch.long, device=device)
        for _, batch in iterator:
            if distributed:
                dist.all_reduce(iterator_stop)
                if iterator_stop > 0:
                    break
            batch = to_device(batch, device)
            _, stats, weight = engine(**batch)
            stats = {k: v for k, v in stats.items() if v is not None}
            stats, weight = recursive_average(stats, weight, distributed)
            reporter.register(stats, weight)
            reporter.next()
        else:
            if distributed:
                iterator_stop.fill_(1)
                dist.all_reduce(iterator_stop)
