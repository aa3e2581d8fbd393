#!/usr/bin/env python3
"""Stage 15: upload a stage-14 export (``exp/<model>/export``) to the Hugging Face Hub.

Usage::

    HF_TOKEN=hf_... python -m espnet_spire.bin.upload_model --repo_id me/spirefull --folder exp/<tag>/spirefull/export
    python -m espnet_spire.bin.upload_model --repo_id me/spirefull --folder DIR --dry_run true   # list only
    python -m espnet_spire.bin.upload_model --repo_id me/spirefull --folder DIR --local_dir /tmp/repo

The folder is checked first: its root must load with ``from_pretrained`` (``config.json``,
weights, a tokenizer), carry ``spire.json``, the k-means model (``kmeans/centers.npy``,
``kmeans/kmeans.json``) and the model card, and no text file may contain the folder's absolute
path or the working directory's. ``--dry_run true`` lists every file and its size and uploads
nothing; ``--local_dir`` copies the same files to a local dir instead of the Hub. The token is
read from the environment (``HF_TOKEN``), never from an option.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from typing import List, Optional, Tuple

from espnet_spire.common.cli import run_cli, setup_logging, str2bool

logger = logging.getLogger("upload_model")

REQUIRED = ("config.json", "spire.json", "README.md", "kmeans/centers.npy", "kmeans/kmeans.json")
WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
TOKENIZERS = ("tokenizer.json", "tokenizer.model")
BINARY_SUFFIXES = (".safetensors", ".bin", ".npy", ".joblib", ".model", ".pt", ".pth", ".gz")


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m espnet_spire.bin.upload_model", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repo_id", required=True, help="Hub model repo, <user or org>/<name>")
    p.add_argument("--folder", required=True, help="the stage-14 export dir (exp/<model>/export)")
    p.add_argument("--dry_run", type=str2bool, default=False, help="list every file and its size; upload nothing")
    p.add_argument("--local_dir", default="", help="copy the repo's files to this dir instead of uploading")
    p.add_argument("--private", type=str2bool, default=False, help="create the Hub repo as private")
    p.add_argument("--revision", default=None, help="branch to commit to (default: main)")
    p.add_argument("--commit_message", default="Upload espnet_spire model")
    p.add_argument("--log_level", default="INFO")
    return p


def repo_files(folder: str) -> List[Tuple[str, int]]:
    """Every file under ``folder`` as (relative path, bytes), sorted; hidden files are not shared."""
    out = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                path = os.path.join(root, name)
                out.append((os.path.relpath(path, folder), os.path.getsize(path)))
    return sorted(out)


def check_repo(folder: str, files: List[Tuple[str, int]]) -> None:
    """Refuse a folder whose root would not load, that lacks the units' k-means, or that leaks local paths."""
    names = {rel for rel, _ in files}
    missing = [n for n in REQUIRED if n not in names]
    if not names & set(WEIGHTS):
        missing.append(" or ".join(WEIGHTS[::2]))
    if not names & set(TOKENIZERS):
        missing.append(" or ".join(TOKENIZERS))
    if missing:
        raise ValueError(f"{folder} is not a loadable espnet_spire repo: missing {', '.join(missing)} at its root "
                         "(write it with stage 14, python -m espnet_spire.bin.export_model)")
    local = {os.path.abspath(folder), os.getcwd()}
    for rel, _ in files:
        if rel.endswith(BINARY_SUFFIXES):
            continue
        with open(os.path.join(folder, rel), "rb") as fh:
            text = fh.read().decode("utf-8", errors="replace")
        leaked = [p for p in local if p != "/" and p in text]
        if leaked:
            raise ValueError(f"{os.path.join(folder, rel)} contains the local path {leaked[0]}: shared files must "
                             "hold no absolute path (re-export with stage 14)")


def upload(repo_id: str, folder: str, dry_run: bool = False, local_dir: str = "", private: bool = False,
           revision: Optional[str] = None, commit_message: str = "Upload espnet_spire model") -> List[Tuple[str, int]]:
    """Check ``folder`` and list, copy (``local_dir``) or upload it to ``repo_id``; returns the file list."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"export dir not found: {folder} (run stage 14 first)")
    files = repo_files(folder)
    check_repo(folder, files)
    target = local_dir or f"https://huggingface.co/{repo_id}"
    logger.info("%s%d files, %.1f MB -> %s", "dry run, nothing uploaded: " if dry_run else "",
                len(files), sum(s for _, s in files) / 1e6, target)
    for rel, size in files:
        logger.info("  %12d  %s", size, rel)
    if dry_run:
        return files
    if local_dir:
        for rel, _ in files:
            os.makedirs(os.path.dirname(os.path.join(local_dir, rel)), exist_ok=True)
            shutil.copyfile(os.path.join(folder, rel), os.path.join(local_dir, rel))
        logger.info("copied %d files to %s", len(files), local_dir)
        return files
    token = os.environ.get("HF_TOKEN")
    if not token:
        raise ValueError("no Hugging Face token: set HF_TOKEN in the environment (a write token from "
                         "https://huggingface.co/settings/tokens), or use --dry_run true / --local_dir DIR")
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
    info = api.upload_folder(repo_id=repo_id, folder_path=folder, revision=revision, commit_message=commit_message,
                             allow_patterns=[rel for rel, _ in files])
    logger.info("uploaded %d files to %s", len(files), getattr(info, "commit_url", target))
    return files


def main(argv: Optional[List[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    return run_cli(lambda: upload(args.repo_id, args.folder, args.dry_run, args.local_dir, args.private,
                                  args.revision, args.commit_message), logger)


if __name__ == "__main__":
    sys.exit(main())
