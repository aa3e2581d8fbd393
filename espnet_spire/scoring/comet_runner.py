"""Runs a COMET model on a batch of segments; executed by the COMET environment's python.

This file is *not* imported by espnet_spire: :mod:`espnet_spire.scoring.comet` runs it as

    <comet venv>/bin/python comet_runner.py --input in.json --output out.json

because unbabel-comet 2.2.7 needs its own environment (transformers<5, numpy<2).  It only uses
the standard library and ``comet``.  Input JSON::

    {"checkpoint": ".../checkpoints/model.ckpt", "encoder_dir": null,
     "samples": [{"src": ..., "mt": ..., "ref": ...}, ...],
     "batch_size": 16, "gpus": 0, "precision": "half"}

``precision="half"`` (default) casts the model to float16 exactly as ``comet-score`` 2.2.7 does,
so scores equal the official command line's (and SpireLM's); ``"float32"`` keeps full precision.

Output JSON: ``{"scores": [...], "system_score": ..., "class": ..., "pretrained_model": ...,
"versions": {...}}``.  Nothing is downloaded: the checkpoint is a local file, and the encoder named
in its ``hparams.yaml`` (e.g. ``xlm-roberta-large``) must be in the local Hugging Face cache unless
``encoder_dir`` points to a local copy of it (tokenizer and config are enough).
"""

import argparse
import json
import os
import sys
import warnings

# This file sits next to espnet_spire/scoring/comet.py: never let that shadow the real package.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
warnings.filterwarnings("ignore")


def _load(checkpoint, encoder_dir):
    from pathlib import Path

    import torch
    import yaml
    from comet.models import str2model

    ckpt = Path(checkpoint)
    hparams_file = ckpt.parents[1] / "hparams.yaml"
    if not hparams_file.is_file():
        raise SystemExit(f"comet_runner: no hparams.yaml next to {ckpt} (expected {hparams_file})")
    with open(hparams_file) as f:
        hparams = yaml.load(f.read(), Loader=yaml.FullLoader)
    cls_name = hparams["class_identifier"]
    model_class = str2model[cls_name]
    kwargs = dict(
        checkpoint_path=ckpt,
        load_pretrained_weights=False,
        hparams_file=hparams_file,
        map_location=torch.device("cpu"),
        strict=False,
        local_files_only=True,
    )
    if hparams.get("layer_transformation") == "sparsemax_patch":
        kwargs["layer_transformation"] = "softmax"  # as comet.load_from_checkpoint (comet>=2.2.4)
    pretrained = hparams.get("pretrained_model")
    if encoder_dir:
        kwargs["pretrained_model"] = encoder_dir
        pretrained = encoder_dir
    try:
        model = model_class.load_from_checkpoint(**kwargs)
    except OSError as e:
        raise SystemExit(
            f"comet_runner: cannot load the encoder {pretrained!r} named by {hparams_file} "
            f"offline ({e}). Put that model's tokenizer and config in the local Hugging Face cache, "
            "or pass a local copy with --comet_encoder_dir DIR."
        )
    return model, cls_name, pretrained


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    args = p.parse_args(argv)
    with open(args.input, encoding="utf-8") as f:
        job = json.load(f)
    threads = job.get("num_threads")
    import torch

    if threads:
        torch.set_num_threads(int(threads))
    model, cls_name, pretrained = _load(job["checkpoint"], job.get("encoder_dir"))
    model.eval()
    precision = job.get("precision", "half")
    if precision == "half":
        model.half()  # what `comet-score` 2.2.7 does, on CPU and GPU alike
    elif precision != "float32":
        raise SystemExit(f"comet_runner: unknown precision {precision!r} (half or float32)")
    samples = job["samples"]
    if samples:
        pred = model.predict(
            samples,
            batch_size=int(job.get("batch_size", 16)),
            gpus=int(job.get("gpus", 0)),
            progress_bar=False,
            num_workers=0,
        )
        scores = [float(x) for x in pred.scores]
        system = float(pred.system_score)
    else:
        scores, system = [], float("nan")
    import importlib.metadata as md

    versions = {}
    for pkg in ("unbabel-comet", "torch", "transformers", "pytorch-lightning"):
        try:
            versions[pkg] = md.version(pkg)
        except Exception:
            versions[pkg] = None
    out = {
        "precision": precision,
        "scores": scores,
        "system_score": system,
        "class": cls_name,
        "pretrained_model": pretrained,
        "checkpoint": str(job["checkpoint"]),
        "versions": versions,
    }
    with open(args.output, "w", encoding="utf-8") as f:
        json.dump(out, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
