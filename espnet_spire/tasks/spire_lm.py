"""The SPIRE LLM task: continued pre-training (CPT) and instruction tuning (IT) of a Hugging Face
causal LM whose vocabulary holds speech-unit tokens.

Data: ``input_ids`` and ``loss_mask`` of a split directory (see :mod:`espnet_spire.train.data`),
given as ``--train_data_path_and_name_and_type <dir>/input_ids,input_ids,spire_text_int`` and
``--train_data_path_and_name_and_type <dir>/loss_mask,loss_mask,spire_text_int`` (``text_int``
also works).  Shape files are derived from ``input_ids`` when ``--train_shape_file`` is not given.

Model: ``--model_dir`` (a local HF directory, loaded with ``local_files_only=True``) wrapped by
:class:`espnet_spire.lm.espnet_model.SpireLMModel` (masked next-token cross entropy).

Trainers: ESPnet's trainer (CPU, one GPU, DDP on many) via :class:`SpireTrainer`, or with
``--use_deepspeed true --deepspeed_config conf/deepspeed/zero2.json`` ESPnet's DeepSpeed path
with :class:`~espnet_spire.train.deepspeed_trainer.SpireDeepSpeedTrainer` (CPU + gloo
included, with or without a distributed launcher).

Example::

    python -m espnet_spire.bin.spire_lm_train --config conf/train_cpt_demo.yaml \\
        --model_dir exp/spire_tokenizer/base_model --output_dir exp/lm_cpt --ngpu 0 \\
        --train_data_path_and_name_and_type dump/lm/cpt/train/input_ids,input_ids,spire_text_int \\
        --train_data_path_and_name_and_type dump/lm/cpt/train/loss_mask,loss_mask,spire_text_int \\
        --valid_data_path_and_name_and_type dump/lm/cpt/valid/input_ids,input_ids,spire_text_int \\
        --valid_data_path_and_name_and_type dump/lm/cpt/valid/loss_mask,loss_mask,spire_text_int
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from espnet2.tasks.abs_task import AbsTask
from espnet2.train.distributed_utils import free_port
from espnet2.train.trainer import Trainer
from espnet2.utils.types import int_or_none, str2bool, str_or_none

from espnet_spire.lm.espnet_model import LOSS_IMPLS, SpireLMModel
from espnet_spire.train.config_guard import check_training_config
from espnet_spire.train.data import (
    SpireLMCollateFn,
    SpireLMPreprocessor,
    prepare_shape_files,
    register_data_type,
)
from espnet_spire.train.scheduler import register_scheduler
from espnet_spire.train.trainer import SpireTrainer

# ESPnet's registries are module-level dicts: add our data type and scheduler before any parser
# is built.
register_data_type()
register_scheduler()

TORCH_DTYPES = ("auto", "float32", "bfloat16", "float16")


def read_model_config(model_dir: Optional[str]) -> Dict:
    """``config.json`` of the HF model directory (a cheap JSON read, no weights)."""
    if model_dir is None:
        return {}
    path = Path(model_dir) / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"--model_dir {model_dir}: no config.json")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def resolve_pad_id(args: argparse.Namespace) -> int:
    """``--pad_id``, else the model's ``pad_token_id``, else its ``eos_token_id``, else 0.

    The value only fills padded positions, which are masked out of attention and loss.
    """
    if getattr(args, "pad_id", None) is not None:
        return int(args.pad_id)
    cfg = read_model_config(getattr(args, "model_dir", None))
    for key in ("pad_token_id", "eos_token_id"):
        v = cfg.get(key)
        if isinstance(v, list):
            v = v[0] if v else None
        if v is not None:
            return int(v)
    return 0


def start_one_process_group(args: argparse.Namespace) -> None:
    """Make a single process a distributed job of one, so that ESPnet engages DeepSpeed.

    ESPnet's ``main_worker`` uses DeepSpeed only when training is distributed and otherwise
    falls back to the plain trainer; with the environment a launcher would give one process,
    ESPnet starts the (gloo or NCCL) group of one itself.
    """
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", str(free_port()))
    os.environ["RANK"] = "0"
    os.environ["WORLD_SIZE"] = "1"
    os.environ["LOCAL_RANK"] = "0"
    args.distributed = True


@contextlib.contextmanager
def espnet_deepspeed_trainer(trainer_class):
    """Within the block ESPnet's ``main_worker`` selects ``trainer_class`` for DeepSpeed.

    ESPnet looks its DeepSpeed trainer up by name at run time
    (``from espnet2.train.deepspeed_trainer import DeepSpeedTrainer``) and only when the task's
    trainer is exactly ``Trainer``: the name points at our subclass for the duration of the call.
    """
    import espnet2.train.deepspeed_trainer as espnet_ds

    original = espnet_ds.DeepSpeedTrainer
    espnet_ds.DeepSpeedTrainer = trainer_class
    try:
        yield
    finally:
        espnet_ds.DeepSpeedTrainer = original


class SpireLMTask(AbsTask):
    """CPT / IT of a unit-extended causal LM (``python -m espnet_spire.bin.spire_lm_train``)."""

    num_optimizers: int = 1
    class_choices_list = []
    trainer = SpireTrainer

    @classmethod
    def add_task_arguments(cls, parser: argparse.ArgumentParser):
        group = parser.add_argument_group(description="SPIRE LM related")
        group.add_argument(
            "--model_dir",
            type=str_or_none,
            default=None,
            help="Local Hugging Face causal-LM directory (unit tokens already added). "
            "Loaded with local_files_only=True; nothing is downloaded.",
        )
        group.add_argument(
            "--torch_dtype",
            type=str,
            default="auto",
            choices=TORCH_DTYPES,
            help="dtype used to load the weights (the model is then cast to --train_dtype; "
            "with DeepSpeed bf16 the engine casts it to bf16).",
        )
        group.add_argument(
            "--attn_implementation",
            type=str_or_none,
            default="sdpa",
            help="transformers attention kernel: sdpa, eager, flash_attention_2, ...",
        )
        group.add_argument(
            "--gradient_checkpointing",
            type=str2bool,
            default=False,
            help="Recompute activations in the backward pass (long sequences / big models).",
        )
        group.add_argument(
            "--max_len",
            type=int_or_none,
            default=None,
            help="Drop training/validation samples longer than this many tokens "
            "(they are removed from the shape file, so never batched).",
        )
        group.add_argument(
            "--pad_id",
            type=int_or_none,
            default=None,
            help="Padding id of input_ids (default: pad_token_id or eos_token_id of the model).",
        )
        group.add_argument(
            "--loss_impl",
            type=str,
            default="selective",
            choices=LOSS_IMPLS,
            help="selective: apply the output layer to target positions only; "
            "full: the model's own forward (all logits).",
        )
        group.add_argument(
            "--check_token_range",
            type=str2bool,
            default=True,
            help="Fail with the sample id when a token id is outside the embedding table.",
        )
        group = parser.add_argument_group(description="Export and DeepSpeed")
        group.add_argument(
            "--hf_export",
            type=str2bool,
            default=True,
            help="At the end of training, write a Hugging Face model dir (weights + the "
            "tokenizer files of --model_dir).",
        )
        group.add_argument(
            "--hf_export_model",
            type=str,
            default="latest",
            help="Which weights to export: latest, valid.loss.best, valid.loss.ave, <N>epoch.",
        )
        group.add_argument(
            "--hf_export_dtype",
            type=str,
            default="auto",
            choices=TORCH_DTYPES,
            help="dtype of the exported weights (auto: the dtype of --model_dir).",
        )
        group.add_argument(
            "--hf_export_dir",
            type=str_or_none,
            default=None,
            help="Export directory (default: <output_dir>/hf_model).",
        )
        group.add_argument(
            "--deepspeed_keep_checkpoints",
            type=int,
            default=1,
            help="How many DeepSpeed checkpoints (checkpoint_<N>/, with optimizer states) to "
            "keep; the consolidated <N>epoch.pth files follow --keep_nbest_models.",
        )
        group.add_argument(
            "--deepspeed_epoch_weights",
            type=str,
            default="module",
            choices=["module", "fp32"],
            help="DeepSpeed: what <N>epoch.pth holds. module: the weights the engine computes "
            "with (bf16 under bf16; fast); fp32: the fp32 master weights read back from the "
            "checkpoint (exact; rank 0 reads all optimizer partitions, slow for 7B).",
        )
        group.add_argument(
            "--resume_with_new_config",
            type=str2bool,
            default=False,
            help="Resume an exp dir whose recorded training config (spire_train_config.json) "
            "differs from this one: keep its weights and epoch count, restart the optimizer "
            "and scheduler from this config (the schedule spans the epochs left). Without it "
            "such a resume stops with both config hashes.",
        )
        # tensorboard is not part of the pinned stack (ESPnet enables it by default).
        parser.set_defaults(
            num_att_plot=0, batch_type="sorted", sort_in_batch="descending", use_tensorboard=False,
            spire_fresh_optimizer=False,  # set by main() from the config record
        )
        required = parser.get_default("required")
        if "model_dir" not in required:
            required.append("model_dir")

    @classmethod
    def build_collate_fn(cls, args: argparse.Namespace, train: bool) -> Callable:
        return SpireLMCollateFn(pad_id=resolve_pad_id(args))

    @classmethod
    def build_preprocess_fn(
        cls, args: argparse.Namespace, train: bool
    ) -> Optional[Callable[[str, Dict[str, np.ndarray]], Dict[str, np.ndarray]]]:
        cfg = read_model_config(getattr(args, "model_dir", None))
        vocab = cfg.get("vocab_size") if getattr(args, "check_token_range", True) else None
        return SpireLMPreprocessor(vocab_size=vocab, max_len=getattr(args, "max_len", None))

    @classmethod
    def required_data_names(
        cls, train: bool = True, inference: bool = False
    ) -> Tuple[str, ...]:
        return ("input_ids", "loss_mask")

    @classmethod
    def optional_data_names(
        cls, train: bool = True, inference: bool = False
    ) -> Tuple[str, ...]:
        return ()

    @classmethod
    def build_model(cls, args: argparse.Namespace) -> SpireLMModel:
        if args.model_dir is None:
            raise ValueError("--model_dir is required")
        return SpireLMModel.from_pretrained(
            args.model_dir,
            torch_dtype=args.torch_dtype,
            attn_implementation=args.attn_implementation,
            gradient_checkpointing=args.gradient_checkpointing,
            loss_impl=args.loss_impl,
            check_token_range=args.check_token_range,
        )

    # ------------------------------------------------------------------ iterators
    @classmethod
    def build_sequence_iter_factory(cls, args, iter_options, mode):
        iter_options.shape_files = prepare_shape_files(
            iter_options.data_path_and_name_and_type,
            iter_options.shape_files,
            Path(args.output_dir) / "shape" / mode,
            getattr(args, "max_len", None),
        )
        return super().build_sequence_iter_factory(args, iter_options, mode)

    # ------------------------------------------------------------------ entry points
    @classmethod
    def main(cls, args: Optional[argparse.Namespace] = None, cmd: Optional[Sequence[str]] = None):
        if args is None:
            args = cls.get_parser().parse_args(cmd)
        # Under an external launcher (torchrun, deepspeed) every process is one worker: do not let
        # ESPnet spawn more, and take LOCAL_RANK from the launcher.
        if int(os.environ.get("WORLD_SIZE", "1")) > 1 and "LOCAL_RANK" in os.environ:
            args.multiprocessing_distributed = False
        if args.output_dir and not (args.print_config or args.collect_stats or args.dry_run):
            # once per launched process, before any is spawned: rank 0 writes the record
            args.spire_fresh_optimizer = check_training_config(
                args, write=int(os.environ.get("RANK", "0")) == 0)
        return super().main(args=args)

    @classmethod
    def main_worker(cls, args: argparse.Namespace):
        if args.use_matplotlib:
            try:
                import matplotlib  # noqa: F401
            except ImportError:
                # ESPnet would crash at the end of the first epoch, when it draws images/.
                logging.getLogger(__name__).warning(
                    "matplotlib is not installed: --use_matplotlib false (no images/*.png)"
                )
                args.use_matplotlib = False
        if args.ngpu == 0 and args.dist_backend == "nccl":
            logging.getLogger(__name__).info("--ngpu 0: using the gloo backend")
            args.dist_backend = "gloo"
        if not args.use_deepspeed:
            return super().main_worker(args)
        if args.ngpu == 0:
            # before deepspeed is imported: it picks its accelerator once, at import
            os.environ["DS_ACCELERATOR"] = "cpu"
        # ESPnet's DistributedOption.init_deepspeed reads it (a KeyError when unset)
        os.environ.setdefault("OMP_NUM_THREADS", str(torch.get_num_threads()))
        from espnet_spire.train.deepspeed_trainer import SpireDeepSpeedTrainer

        if not args.distributed:
            start_one_process_group(args)
        cls.trainer = Trainer  # what ESPnet's DeepSpeed branch requires
        try:
            with espnet_deepspeed_trainer(SpireDeepSpeedTrainer):
                super().main_worker(args)
        finally:
            cls.trainer = SpireTrainer
