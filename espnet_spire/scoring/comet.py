"""COMET-22 and CometKiwi through unbabel-comet installed in its own environment.

unbabel-comet 2.2.7 cannot live in the main environment (it needs transformers<5, numpy<2,
protobuf<5), so ``tools/install_comet.sh`` (``make install-comet``) creates ``tools/comet_venv``
and this module runs :mod:`espnet_spire.scoring.comet_runner` with that environment's python as a
subprocess.  Models are local checkpoints only (``Unbabel/wmt22-comet-da`` and the gated
``Unbabel/wmt22-cometkiwi-da`` downloaded by the user): a directory holding
``checkpoints/model.ckpt`` and ``hparams.yaml``, or the ``.ckpt`` file itself.

The system score is the mean of the segment scores (SpireLM's ``mean_comet.py``; compat vector
20), which is also what COMET itself reports.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from espnet_spire.common.fileio import PathLike, write_json

RUNNER = Path(__file__).resolve().with_name("comet_runner.py")
COMET_VENV_REL = Path("tools") / "comet_venv"


class CometError(RuntimeError):
    """COMET cannot run (environment or model missing, runner failed); the message says why."""


def _repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def find_comet_python(explicit: Optional[PathLike] = None) -> str:
    """The COMET environment's python: ``explicit``, ``$SPIRE_COMET_PYTHON``,
    ``$MAIN_ROOT/tools/comet_venv``, or ``tools/comet_venv`` of this source tree."""
    if explicit:
        if not os.path.isfile(explicit):
            raise CometError(f"--comet_python {explicit} does not exist")
        return str(explicit)
    cands = [os.environ.get("SPIRE_COMET_PYTHON")]
    if os.environ.get("MAIN_ROOT"):
        cands.append(str(Path(os.environ["MAIN_ROOT"]) / COMET_VENV_REL / "bin" / "python"))
    cands.append(str(_repo_root() / COMET_VENV_REL / "bin" / "python"))
    for c in cands:
        if c and os.path.isfile(c):
            return c
    raise CometError(
        "The COMET environment is not installed (looked for "
        + ", ".join(c for c in cands if c)
        + "). Install it with `make install-comet` (= tools/install_comet.sh, ~2-4 min), "
        "or pass --comet_python PATH / set SPIRE_COMET_PYTHON to a python with unbabel-comet==2.2.7."
    )


def resolve_checkpoint(model: PathLike) -> Path:
    """``<dir>/checkpoints/model.ckpt`` for a model directory, or the given ``.ckpt`` file."""
    p = Path(model)
    if p.is_file():
        return p
    if p.is_dir():
        ck = p / "checkpoints" / "model.ckpt"
        if ck.is_file():
            return ck
        found = sorted((p / "checkpoints").glob("*.ckpt")) if (p / "checkpoints").is_dir() else []
        if len(found) == 1:
            return found[0]
        raise CometError(f"{p} is not a COMET model directory (no checkpoints/model.ckpt)")
    raise CometError(
        f"COMET model {str(model)!r} not found locally. espnet_spire never downloads models: "
        "fetch it yourself where the Hugging Face Hub is reachable, e.g. "
        "`huggingface-cli download Unbabel/wmt22-comet-da --local-dir /models/wmt22-comet-da` "
        "(Unbabel/wmt22-cometkiwi-da is gated: accept its licence on the Hub first), and pass "
        "that directory (it holds checkpoints/model.ckpt and hparams.yaml)."
    )


def system_score(scores: Sequence[float]) -> float:
    """Mean of the segment scores (numpy mean, as SpireLM's ``mean_comet.py``)."""
    import numpy as np

    return float(np.mean(np.asarray(scores, dtype=np.float64))) if len(scores) else float("nan")


def mean_comet(comet_json: Dict[str, List[Dict[str, float]]], key: str = "COMET") -> Dict[str, float]:
    """``{hyp_path: [{"COMET": s}, ...]}`` (``comet-score --to_json``) -> ``{hyp_path: mean}``."""
    return {name: system_score([seg[key] for seg in segs]) for name, segs in comet_json.items()}


@dataclass
class CometResult:
    scores: List[float]
    system_score: float
    checkpoint: str
    model_class: str = ""
    pretrained_model: Optional[str] = None
    versions: Dict[str, Optional[str]] = field(default_factory=dict)
    precision: str = "half"


def run_comet(
    srcs: Sequence[str],
    hyps: Sequence[str],
    refs: Optional[Sequence[str]],
    model: PathLike,
    comet_python: Optional[PathLike] = None,
    batch_size: int = 16,
    gpus: int = 0,
    encoder_dir: Optional[PathLike] = None,
    num_threads: Optional[int] = None,
    precision: str = "half",
) -> CometResult:
    """Score segments with a COMET checkpoint in the COMET environment.

    ``refs=None`` for reference-free models (CometKiwi).  ``precision="half"`` (default) runs
    the model in float16 exactly as ``comet-score`` 2.2.7 does (SpireLM's numbers);
    ``"float32"`` keeps full precision.  Raises :class:`CometError` with the runner's message
    when anything fails.
    """
    if len(srcs) != len(hyps) or (refs is not None and len(refs) != len(hyps)):
        raise ValueError("COMET needs as many sources (and references) as hypotheses")
    py = find_comet_python(comet_python)
    ckpt = resolve_checkpoint(model)
    samples = []
    for k, (s, h) in enumerate(zip(srcs, hyps)):
        d = {"src": s.strip(), "mt": h.strip()}  # comet-score strips its input lines too
        if refs is not None:
            d["ref"] = refs[k].strip()
        samples.append(d)
    job = {
        "checkpoint": str(ckpt.resolve()),
        "encoder_dir": str(encoder_dir) if encoder_dir else None,
        "samples": samples,
        "batch_size": batch_size,
        "gpus": gpus,
        "num_threads": num_threads,
        "precision": precision,
    }
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1", PYTHONUTF8="1")
    env.pop("PYTHONPATH", None)  # keep the main environment's packages out of the COMET one
    with tempfile.TemporaryDirectory(prefix="spire_comet_") as tmp:
        jin, jout = os.path.join(tmp, "in.json"), os.path.join(tmp, "out.json")
        with open(jin, "w", encoding="utf-8") as f:
            json.dump(job, f, ensure_ascii=False)
        cmd = [py, "-I", str(RUNNER), "--input", jin, "--output", jout]
        logging.info("COMET: %s on %d segments (%s)", ckpt, len(samples), py)
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0 or not os.path.exists(jout):
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
            raise CometError(f"COMET runner failed (exit {proc.returncode}) for {ckpt}:\n{tail}")
        with open(jout, encoding="utf-8") as f:
            out = json.load(f)
    scores = [float(x) for x in out["scores"]]
    if len(scores) != len(samples):
        raise CometError(f"COMET returned {len(scores)} scores for {len(samples)} segments")
    return CometResult(
        scores=scores,
        system_score=system_score(scores),
        checkpoint=str(ckpt),
        model_class=out.get("class", ""),
        pretrained_model=out.get("pretrained_model"),
        versions=out.get("versions", {}),
        precision=out.get("precision", precision),
    )


@dataclass
class CometRequest:
    """The segments of one output dir to score (one decode dir's ``score_comet/``)."""

    ids: Sequence[str]
    srcs: Sequence[str]
    hyps: Sequence[str]
    refs: Optional[Sequence[str]]
    out_dir: PathLike
    extra_info: Optional[Dict] = None


def score_dir(
    ids: Sequence[str],
    srcs: Sequence[str],
    hyps: Sequence[str],
    refs: Optional[Sequence[str]],
    out_dir: PathLike,
    model: PathLike,
    metric: str = "comet",
    extra_info: Optional[Dict] = None,
    **kwargs,
) -> Dict:
    """Run COMET and write ``out_dir``: ``result.json``, ``result.txt``, ``segment_scores``
    (Kaldi ``uttid score``) and ``segments.json`` (src/mt/ref/score per segment)."""
    return score_dirs([CometRequest(ids, srcs, hyps, refs, out_dir, extra_info)], model, metric, **kwargs)[0]


def score_dirs(requests: Sequence[CometRequest], model: PathLike, metric: str = "comet", **kwargs) -> List[Dict]:
    """:func:`score_dir` for many dirs with ONE COMET run: the model is loaded once (a process
    and a model load cost seconds each, and stage 13 scores hundreds of task dirs). Segment scores
    do not depend on the other segments (up to the float rounding of batch padding), so each dir
    gets what a run of its own would give."""
    if not requests:
        return []
    free = [r.refs is None for r in requests]
    if any(free) and not all(free):
        raise ValueError("score_dirs: mix of reference-free and reference-based requests")
    srcs = [s for r in requests for s in r.srcs]
    hyps = [h for r in requests for h in r.hyps]
    refs = None if all(free) else [x for r in requests for x in r.refs]
    res = run_comet(srcs, hyps, refs, model, **kwargs)
    results, start = [], 0
    for r in requests:
        n = len(r.hyps)
        part = CometResult(**{**res.__dict__, "scores": res.scores[start:start + n],
                              "system_score": system_score(res.scores[start:start + n])})
        start += n
        results.append(_write_dir(r, part, model, metric))
    return results


def _write_dir(req: CometRequest, res: CometResult, model: PathLike, metric: str) -> Dict:
    """One request's score dir from its share of a COMET run."""
    from espnet_spire.common.kaldi_dir import write_kaldi_file

    ids, srcs, hyps, refs = req.ids, req.srcs, req.hyps, req.refs
    out = Path(req.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_kaldi_file(out / "segment_scores", [(i, repr(s)) for i, s in zip(ids, res.scores)])
    segs = []
    for k, uid in enumerate(ids):
        d = {"uttid": uid, "src": srcs[k], "mt": hyps[k]}
        if refs is not None:
            d["ref"] = refs[k]
        d["COMET"] = res.scores[k]
        segs.append(d)
    write_json(out / "segments.json", segs, indent=1, sort_keys=False)
    result = {
        "metric": metric,
        "system_score": res.system_score,
        "n_segments": len(res.scores),
        "model": str(model),
        "checkpoint": res.checkpoint,
        "model_class": res.model_class,
        "pretrained_model": res.pretrained_model,
        "reference_free": refs is None,
        "precision": res.precision,
        "versions": res.versions,
        "signature": comet_signature(res, refs is None),
    }
    if req.extra_info:
        result.update(req.extra_info)
    write_json(out / "result.json", result, sort_keys=False)
    (out / "result.txt").write_text(
        f"{metric} = {res.system_score:.4f} (mean of {len(res.scores)} segment scores)\n"
        f"signature: {result['signature']}\n",
        encoding="utf-8",
    )
    logging.info("%s: %s %.4f", out, metric, res.system_score)
    return result


def comet_signature(res: CometResult, reference_free: bool) -> str:
    """``model:<dir name>|class:...|nrefs:0/1|precision:...|comet:<version>`` for RESULTS.md."""
    ck = Path(res.checkpoint)
    name = ck.parents[1].name if ck.parent.name == "checkpoints" else ck.stem
    return (
        f"model:{name}|class:{res.model_class}|nrefs:{0 if reference_free else 1}"
        f"|precision:{res.precision}|comet:{res.versions.get('unbabel-comet')}"
    )
