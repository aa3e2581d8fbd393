"""Tie an experiment dir to the training config that started it.

ESPnet's ``--resume true`` restores the optimizer and scheduler of ``checkpoint.pth`` whatever
the config now says, so a finished training rerun with more epochs and another learning rate
ran its extra epochs on the old schedule (lr 0) and reported success (issue #15). The first
start writes ``spire_train_config.json`` (the options that change what is trained, and their
hash); a resume under another hash stops, unless ``--resume_with_new_config true`` asks to keep
the weights and the epoch count and restart the optimizer and scheduler from the new config.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any, Dict, Optional

from espnet_spire.common.fileio import read_json, write_json
from espnet_spire.common.hashing import sha256_file, sha256_json

RECORD = "spire_train_config.json"

# Options that say where or how a run executes, or what is kept or exported afterwards, not
# what is trained: changing them never invalidates a checkpoint. Paths are left out too (a
# moved dump dir is the same data); the DeepSpeed JSON counts by its content.
IGNORED = frozenset({
    "config", "output_dir", "model_dir", "train_data_path_and_name_and_type",
    "valid_data_path_and_name_and_type", "train_shape_file", "valid_shape_file", "ngpu",
    "num_workers", "dist_backend", "dist_init_method", "dist_launcher", "dist_master_addr",
    "dist_master_port", "dist_rank", "dist_world_size", "local_rank", "multiprocessing_distributed",
    "distributed", "unused_parameters", "sharded_ddp", "ddp_comm_hook", "gradient_as_bucket_view",
    "resume", "print_config", "log_level", "log_interval", "dry_run", "collect_stats",
    "write_collected_feats", "use_matplotlib", "use_tensorboard", "create_graph_in_tensorboard",
    "use_wandb", "wandb_entity", "wandb_id", "wandb_model_log_interval", "wandb_name",
    "wandb_project", "detect_anomaly", "num_att_plot", "max_cache_fd", "max_cache_size",
    "valid_max_cache_size", "num_cache_chunks", "hf_export", "hf_export_dir", "hf_export_dtype",
    "hf_export_model", "deepspeed_keep_checkpoints", "deepspeed_epoch_weights", "required",
    "no_forward_run", "keep_nbest_models", "nbest_averaging_interval", "best_model_criterion",
    "resume_with_new_config", "spire_fresh_optimizer",
})


class TrainingConfigChanged(RuntimeError):
    """A resume under a training config other than the one recorded in the exp dir."""


def effective_config(args: argparse.Namespace) -> Dict[str, Any]:
    """The options of ``args`` that change what is trained, JSON-safe."""
    cfg = {}
    for key, value in sorted(vars(args).items()):
        if key in IGNORED:
            continue
        if key == "deepspeed_config" and value and os.path.isfile(value):
            value = "sha256:" + sha256_file(value)
        if not isinstance(value, (str, int, float, bool, type(None), list, dict)):
            value = repr(value)
        cfg[key] = value
    return cfg


def progress_mark(output_dir: Path) -> Optional[str]:
    """What a resume would start from (``checkpoint.pth`` or DeepSpeed ``checkpoint_<N>/``
    dirs), as a string that changes whenever a new checkpoint is saved; None before any."""
    marks = []
    ckpt = output_dir / "checkpoint.pth"
    if ckpt.exists():
        st = ckpt.stat()
        marks.append(f"checkpoint.pth:{st.st_size}:{st.st_mtime_ns}")
    marks += sorted(p.name for p in output_dir.glob("checkpoint_*") if p.is_dir())
    return " ".join(marks) or None


def _changes(old: Dict[str, Any], new: Dict[str, Any]) -> str:
    keys = sorted(set(old) | set(new))
    diffs = [f"{k}: {old.get(k, '(unset)')!r} -> {new.get(k, '(unset)')!r}"
             for k in keys if old.get(k) != new.get(k)]
    return "; ".join(diffs) if diffs else "(options not recorded)"


def check_training_config(args: argparse.Namespace, write: bool = True) -> bool:
    """Compare ``args`` with the record of ``args.output_dir``; True when the optimizer and
    scheduler must start fresh (``--resume_with_new_config true`` accepted a changed config).

    Raises :class:`TrainingConfigChanged` naming both hashes, the record and the choices. Only
    one process (``write``) writes the record; every process reaches the same answer, because
    an accepted change is recorded with the checkpoint it applies to.
    """
    output_dir = Path(args.output_dir)
    record_path = output_dir / RECORD
    cfg = effective_config(args)
    new_hash = sha256_json(cfg)
    mark = progress_mark(output_dir) if args.resume else None
    record = read_json(record_path) if record_path.is_file() else None
    log = logging.getLogger(__name__)

    def _write(extra: Dict[str, Any]) -> None:
        if write:
            output_dir.mkdir(parents=True, exist_ok=True)
            write_json(record_path, {"hash": new_hash, "config": cfg, **extra})

    if mark is None:  # a fresh start: this config starts the experiment
        _write({})
        return False
    if record is None:
        log.warning(f"{output_dir} has checkpoints but no {RECORD} (made before it existed): "
                    f"recording the current config ({new_hash[:12]}) as its config")
        _write({})
        return False
    if record["hash"] == new_hash:
        # a change accepted earlier applies until the next checkpoint is saved
        return record.get("fresh_optimizer_for") == mark
    if not getattr(args, "resume_with_new_config", False):
        raise TrainingConfigChanged(
            f"{output_dir}: the training config changed since this experiment started "
            f"(recorded {record['hash'][:12]} in {record_path}, now {new_hash[:12]}; changed: "
            f"{_changes(record.get('config', {}), cfg)}). Resuming would restore the old "
            "optimizer and scheduler under the new config. Choose one: train under another name "
            "(spire.sh --cpt_tag/--it_tag, or another --output_dir), delete "
            f"{output_dir} to start over, or --resume_with_new_config true to keep its weights "
            "and epoch count and restart the optimizer and scheduler from the new config."
        )
    if getattr(args, "use_deepspeed", False):
        raise TrainingConfigChanged(
            f"{output_dir}: the training config changed (recorded {record['hash'][:12]}, now "
            f"{new_hash[:12]}) and --resume_with_new_config true is not supported with DeepSpeed "
            "yet (its checkpoints restore optimizer and scheduler with the weights): train under "
            f"another name or delete {output_dir}")
    log.warning(f"{output_dir}: --resume_with_new_config true: config {record['hash'][:12]} -> "
                f"{new_hash[:12]} ({_changes(record.get('config', {}), cfg)}); keeping the weights "
                "and epoch count, restarting the optimizer and scheduler")
    history = record.get("previous", []) + [record["hash"]]
    _write({"previous": history, "fresh_optimizer_for": mark})
    return True
