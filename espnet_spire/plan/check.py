"""Every input of the selected stages, checked before any estimate: the problems of a plan.

Inputs that later stages make (data dirs of stage 1, k-means of stage 4, tokenizer of stage 6)
are not required when the stage that makes them is selected; everything else must exist.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from espnet_spire.plan import estimates as est
from espnet_spire.plan.inputs import (
    DataStats,
    TextStats,
    check_data_dir,
    data_stats,
    lang_lines,
    model_shape,
    ssl_facts,
    text_dir_stats,
    train_setup,
)
from espnet_spire.plan.roles import derived_sets, needed_text_sets, role_sets, roles_of_sets

MFCC_DIM = 39


@dataclass
class Plan:
    """What the plan found: problems (non-empty: nothing may start), notes and per-stage rows."""

    problems: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    data: Dict[str, DataStats] = field(default_factory=dict)
    text: Dict[str, TextStats] = field(default_factory=dict)
    roles: Dict[str, List[str]] = field(default_factory=dict)   # dir -> the role options naming it
    st_lines: Dict[str, Dict[str, int]] = field(default_factory=dict)  # speech dir -> lines per text.tc.<lang>
    rows: List[Dict[str, object]] = field(default_factory=list)
    memory: Dict[str, est.GpuMemory] = field(default_factory=dict)


def _run_data_check(cmd: str) -> List[str]:
    """Run the recipe's ``local/data.sh --check true``; its stdout lines are the problems."""
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True)
    if proc.returncode == 0:
        return []
    lines = [line.strip() for line in proc.stdout.splitlines() if line.strip()]
    return lines or [f"'{cmd}' failed (exit {proc.returncode}): {proc.stderr.strip()[-300:]}"]


def _kmeans_k(path: str, nclusters: int, plan: Plan, trust_pickle: bool = False) -> Optional[int]:
    from espnet_spire.units.kmeans import read_kmeans_facts

    try:
        facts = read_kmeans_facts(path, trust_pickle)
    except (OSError, ValueError) as exc:
        plan.problems.append(f"k-means model {path} cannot be read: {exc}")
        return None
    k = int(facts["num_units"])
    if k != nclusters:
        plan.problems.append(f"K mismatch: the k-means model {path} has K={k} but --nclusters is {nclusters}")
    return k


def cpt_data_options(args: argparse.Namespace) -> argparse.Namespace:
    """Stage 7's options as its builder parses them: ``--speech_text_ratio`` from ``--cpt_ratio``,
    then ``--cpt_data_opts`` (its ``--max_tokens`` is the CPT token budget, e.g. ``6B``)."""
    from espnet_spire.bin.make_cpt_data import get_parser

    argv = ["--tokenizer_dir", "-", "--output_dir", "-", "--speech_text_ratio", args.cpt_ratio,
            *shlex.split(args.cpt_data_opts)]
    opts, _ = get_parser().parse_known_args(argv)
    return opts


def _check_data(args: argparse.Namespace, sel: set, plan: Plan) -> None:
    """Every dir of every role: speech dirs always (stages 2-5 read them all), text dirs when a
    stage of their role is selected. Missing dirs are problems unless stage 1 (which makes them) is."""
    plan.roles = roles_of_sets(args)
    st_sets = set(role_sets(args)["st_sets"])
    langs = args.tgt_langs.split()

    def named_by(name: str) -> str:
        return ", ".join(f"--{r}" for r in plan.roles.get(name, []))

    for name in derived_sets(args)["speech_sets"]:
        path = os.path.join(args.data_root, name)
        if os.path.isdir(path):
            problems = check_data_dir(path)
            plan.problems += problems
            if not problems:
                units = os.path.join(args.dumpdir, "units", name, "units")
                plan.data[name] = data_stats(path, seed=args.seed, units_file=units)
                if name in st_sets:
                    plan.st_lines[name] = lang_lines(path, langs)
        elif 1 in sel:
            plan.notes.append(f"data/{name}: made by stage 1, sizes unknown until then")
        else:
            plan.problems.append(f"data dir {path} does not exist (stage 1 is not selected): "
                                 f"named by {named_by(name)}")
    counted = set(role_sets(args)["it_mt_sets"] + role_sets(args)["text_test_sets"])
    for name in needed_text_sets(args, sel):
        path = os.path.join(args.data_root, name)
        if not os.path.isdir(path) and 1 in sel:
            plan.notes.append(f"data/{name}: made by stage 1")
            continue
        problems = check_data_dir(path, speech=False)
        plan.problems += [f"{p}: named by {named_by(name)}" for p in problems]
        if not problems:
            plan.text[name] = text_dir_stats(path, count_lines=name in counted)
    if 10 in sel and args.towerblocks and not os.path.isfile(args.towerblocks):
        if 1 in sel:
            plan.notes.append(f"{args.towerblocks}: made by stage 1")
        else:
            plan.problems.append(f"--towerblocks {args.towerblocks} does not exist (stage 1 is not selected)")


def _check_models(args: argparse.Namespace, sel: set, plan: Plan, found: Dict[str, object]) -> None:
    """SSL model, k-means K, tokenizer, base model, translator and training configs."""
    found["feat_dim"] = MFCC_DIM
    needs_ssl = (3 in sel and not args.kmeans_model) or 5 in sel
    if args.feature_type == "hf_ssl" and (needs_ssl or args.ssl_model):
        if not args.ssl_model:
            plan.problems.append("--feature_type hf_ssl needs --ssl_model <local HF model dir>")
        else:
            try:
                layers, dim = ssl_facts(args.ssl_model)
                found["feat_dim"] = dim
                if args.ssl_layer > layers:
                    plan.problems.append(f"--ssl_layer {args.ssl_layer} but {args.ssl_model} has {layers} layers")
            except (OSError, KeyError, ValueError) as exc:
                plan.problems.append(f"SSL model: {exc}")
    k: Optional[int] = args.nclusters
    km_path = args.kmeans_model or args.kmeans_dir
    if args.kmeans_model or (sel & {5, 6} and 4 not in sel):
        if os.path.exists(km_path):
            k = _kmeans_k(km_path, args.nclusters, plan, args.trust_pickle)
        else:
            plan.problems.append(f"k-means model {km_path} does not exist (stage 4 is not selected)")
    found["k"] = k
    tok_base = os.path.join(args.tokenizer_dir, "base")
    if sel & {7, 10} and 6 not in sel:
        from espnet_spire.lm.facts import read_facts

        facts = read_facts(tok_base) if os.path.isdir(tok_base) else None
        if facts is None:
            plan.problems.append(f"tokenizer {tok_base} (stage 6) does not exist or has no spire.json")
        elif k is not None and int(facts.get("num_units", -1)) != k:
            plan.problems.append(f"K mismatch: tokenizer {tok_base} has {facts.get('num_units')} units, "
                                 f"the k-means model K={k}")
    if args.base_model:
        try:
            found["base"] = model_shape(args.base_model)
        except (OSError, KeyError, ValueError) as exc:
            made_by_stage1 = 1 in sel and args.base_model.startswith(args.expdir.rstrip("/") + "/")
            if made_by_stage1:
                plan.notes.append(f"base model {args.base_model}: made by stage 1, shapes unknown until then")
            elif sel & {6, 7, 8, 9, 10, 11, 12}:
                plan.problems.append(f"base model: {exc}")
    elif sel & {6}:
        plan.problems.append("--base_model is empty (stage 6 needs the local HF dir of the base LLM)")
    if 9 in sel:
        if not args.pseudo_st_translator:
            plan.problems.append("stage 9 needs --pseudo_st_translator <local causal LM dir> or 'base'")
        elif args.pseudo_st_translator == "base":
            found["translator"] = found.get("base")
        else:
            try:
                found["translator"] = model_shape(args.pseudo_st_translator)
            except (OSError, KeyError, ValueError) as exc:
                if 1 in sel and args.pseudo_st_translator.startswith(args.expdir.rstrip("/") + "/"):
                    plan.notes.append(f"translator {args.pseudo_st_translator}: made by stage 1")
                else:
                    plan.problems.append(f"pseudo-ST translator: {exc}")
    for key, path, stage in (("cpt", args.cpt_config, 8), ("it", args.it_config, 11)):
        if path and (stage in sel or os.path.isfile(path)):
            try:
                found[key] = train_setup(path)
            except (OSError, ValueError) as exc:
                plan.problems.append(f"training config: {exc}")


def check_inputs(args: argparse.Namespace, sel: set, plan: Plan) -> Dict[str, object]:
    """Collect the problems of every input into ``plan``; return what was read (model shapes, K,
    configs, stage 7's options, the IT mixture paths)."""
    found: Dict[str, object] = {}
    if 1 in sel and args.data_check_cmd:
        plan.problems += _run_data_check(args.data_check_cmd)
    _check_data(args, sel, plan)
    if args.feature_type not in est.FRAME_RATE:
        plan.problems.append(f"--feature_type {args.feature_type} is not one of {sorted(est.FRAME_RATE)}")
        return found
    _check_models(args, sel, plan, found)
    if 7 in sel:
        try:
            found["cpt_opts"] = cpt_data_options(args)
        except (ValueError, SystemExit) as exc:
            plan.problems.append(f"--cpt_data_opts '{args.cpt_data_opts}' cannot be parsed: {exc}")
    if sel & {10, 11}:
        mixtures = {}
        for v in [v for v in args.variants.split() if v != "spirebase"]:
            path = os.path.join(args.mixture_dir, f"{v}.yaml")
            if os.path.isfile(path):
                mixtures[v] = path
            else:
                plan.problems.append(f"IT mixture {path} of variant {v} does not exist")
        found["mixtures"] = mixtures
    return found
