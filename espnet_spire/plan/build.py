"""The plan of a run: input problems, then one row of estimates per selected stage.

Inputs that later stages make (data dirs of stage 1, k-means of stage 4, tokenizer of stage 6)
are not required when the stage that makes them is selected; everything else must exist.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from espnet_spire.plan import estimates as est
from espnet_spire.plan.inputs import (
    DataStats,
    ModelShape,
    TrainSetup,
    check_data_dir,
    data_stats,
    model_shape,
    ssl_facts,
    text_dir_chars,
    train_setup,
)

STAGE_NAMES = {1: "data preparation", 2: "audio formatting", 3: "k-means features", 4: "k-means",
               5: "unit labelling", 6: "tokenizer + model extension", 7: "CPT data", 8: "CPT training",
               9: "pseudo-labelled ST", 10: "IT data", 11: "IT training", 12: "decoding",
               13: "scoring", 14: "export", 15: "upload"}
MFCC_DIM = 39
EMBEDDING_MULTIPLE = 64
NUM_SPECIALS = 5


@dataclass
class Plan:
    """What the plan found: problems (non-empty: nothing may start), notes and per-stage rows."""

    problems: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    data: Dict[str, DataStats] = field(default_factory=dict)
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


def _check_inputs(args: argparse.Namespace, sel: set, plan: Plan) -> Dict[str, object]:
    """Collect problems; return what was read (model shapes, K, configs)."""
    found: Dict[str, object] = {}
    if 1 in sel and args.data_check_cmd:
        plan.problems += _run_data_check(args.data_check_cmd)
    speech = [args.train_set, args.valid_set, *args.test_sets.split()]
    for name in [s for s in speech if s]:
        path = os.path.join(args.data_root, name)
        if os.path.isdir(path):
            problems = check_data_dir(path)
            plan.problems += problems
            if not problems:
                units = os.path.join(args.dumpdir, "units", name, "units")
                plan.data[name] = data_stats(path, seed=args.seed, units_file=units)
        elif 1 in sel:
            plan.notes.append(f"data/{name}: made by stage 1, sizes unknown until then")
        else:
            plan.problems.append(f"data dir {path} does not exist (stage 1 is not selected)")
    found["text_chars"] = 0
    if sel & {7, 10}:
        for name in [s for s in (args.mt_train_set, args.mono_set) if s]:
            path = os.path.join(args.data_root, name)
            if not os.path.isdir(path) and 1 in sel:
                plan.notes.append(f"data/{name}: made by stage 1")
                continue
            problems = check_data_dir(path, speech=False)
            plan.problems += problems
            if not problems:
                found["text_chars"] += sum(text_dir_chars(path).values())
    if args.feature_type not in est.FRAME_RATE:
        plan.problems.append(f"--feature_type {args.feature_type} is not one of {sorted(est.FRAME_RATE)}")
        return found
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
    for key, path, stage in (("cpt", args.cpt_config, 8), ("it", args.it_config, 11)):
        if path and (stage in sel or os.path.isfile(path)):
            try:
                found[key] = train_setup(path)
            except (OSError, ValueError) as exc:
                plan.problems.append(f"training config: {exc}")
    return found


def _extended_params(base: ModelShape, k: int) -> float:
    """Parameters after stage 6: the vocabulary grows by ``5 + K`` rows, padded to a multiple of 64,
    in the input embeddings and in the output layer (Llama-7B does not tie them)."""
    vocab = math.ceil((base.vocab + NUM_SPECIALS + k) / EMBEDDING_MULTIPLE) * EMBEDDING_MULTIPLE
    return base.params + (vocab - base.vocab) * base.hidden * 2


def _memory(setup: TrainSetup, params: float, shape: ModelShape, vocab: int, ngpu: int) -> est.GpuMemory:
    n = max(1, ngpu)
    if setup.batch_size:
        micro, seq = max(1, math.ceil(setup.batch_size / n)), setup.max_len
    else:
        micro, seq = 1, max(1, min(setup.max_len, (setup.batch_bins or setup.max_len) // n))
    return est.gpu_memory(params, n, max(0, setup.zero_stage), setup.bf16, shape.layers, shape.hidden,
                          vocab, micro, seq, setup.checkpointing)


def build_plan(args: argparse.Namespace) -> Plan:
    """Check the inputs and, when every input is there, estimate each selected stage."""
    sel = {int(s) for s in args.stages.split()}
    plan = Plan()
    found = _check_inputs(args, sel, plan)
    if plan.problems:
        return plan
    k = int(found.get("k") or args.nclusters)
    stats = list(plan.data.values())
    train = plan.data.get(args.train_set)
    secs_all = sum(s.seconds for s in stats)
    rate_note = "units measured in dump/units" if train and train.units is not None else \
        f"units = seconds x {est.FRAME_RATE[args.feature_type]:g} Hz x dedup factor " \
        f"{est.DEDUP_FACTOR[args.feature_type] if args.dedup else 1.0:g} (assumed)"
    plan.notes.append(rate_note)

    def units_of(s: DataStats) -> float:
        return float(s.units) if s.units is not None else est.units_count(s.seconds, args.feature_type, args.dedup)

    units_all = sum(units_of(s) for s in stats)
    train_units = units_of(train) if train else 0.0
    train_tt = est.text_tokens(train.transcript_chars) if train else 0.0
    cpt = est.cpt_tokens(train_units, train_tt, train.utts if train else 0, args.cpt_ratio, args.cpt_token_budget)
    text_avail = est.text_tokens(found.get("text_chars", 0))
    base: Optional[ModelShape] = found.get("base")  # type: ignore[assignment]
    params = _extended_params(base, k) if base else 0.0
    vocab = math.ceil((base.vocab + NUM_SPECIALS + k) / EMBEDDING_MULTIPLE) * EMBEDDING_MULTIPLE if base else 0
    tps = est.tokens_per_second(params, args.tokens_per_second) if params else args.tokens_per_second
    it_variants = [v for v in args.variants.split() if v != "spirebase"]
    n_tgt = len(args.tgt_langs.split())
    asr_examples = args.it_asr_examples if args.it_asr_examples >= 0 else (train.utts if train else 0)
    it_examples = asr_examples + (args.pseudo_st_n_direct + args.pseudo_st_n_multiturn) * n_tgt
    scale = 1.0
    if train and train.utts and args.it_seconds_per_example > 0:
        scale = args.it_seconds_per_example / (train.seconds / train.utts)
    per_units = scale * train_units / train.utts if train and train.utts else 0.0
    per_out = scale * train_tt / train.utts if train and train.utts else 0.0
    plan.notes.append(f"IT: {it_examples:,} examples per variant ({asr_examples:,} ASR + "
                      f"({args.pseudo_st_n_direct:,} + {args.pseudo_st_n_multiturn:,}) x {n_tgt} languages), "
                      f"{per_units:,.0f} units + {per_out:,.0f} output tokens each")
    it_tok = est.it_tokens(it_examples, per_units, per_out)
    hours_all, utts_all = secs_all / 3600.0, sum(s.utts for s in stats)
    for n in sorted(sel):
        row: Dict[str, object] = {"stage": n, "what": STAGE_NAMES.get(n, "?")}
        if n in (1, 2) and stats:
            row.update(hours=hours_all, utts=utts_all)
        if n == 2 and stats:
            row["disk"] = est.audio_dump_bytes(secs_all)
        if n == 3 and train and not args.kmeans_model:
            frames = train.seconds * est.FRAME_RATE[args.feature_type]
            row.update(hours=train.hours, utts=train.utts,
                       disk=est.kmeans_feature_bytes(frames, int(found.get("feat_dim", MFCC_DIM)),
                                                     args.kmeans_max_frames, args.kmeans_portion))
        if n == 4 and not args.kmeans_model:
            row["disk"] = k * int(found.get("feat_dim", MFCC_DIM)) * 4 * 2.0
        if n == 5 and stats:
            row.update(hours=hours_all, utts=utts_all, units=units_all,
                       disk=est.units_text_bytes(units_all, utts_all))
        if n == 6 and base:
            row["disk"] = params * base.weight_bytes
        if n == 7 and train:
            row.update(hours=train.hours, utts=train.utts, units=train_units, tokens=cpt.total,
                       disk=est.token_file_bytes(cpt.total))
            plan.notes.append(f"CPT tokens: speech {cpt.speech:,.0f} + text {cpt.text:,.0f} ({args.cpt_ratio}); "
                              f"text available in mt/mono sets: {text_avail:,.0f} tokens")
        if n in (8, 11) and base:
            key = "cpt" if n == 8 else "it"
            setup: Optional[TrainSetup] = found.get(key)  # type: ignore[assignment]
            if setup is None:
                continue
            mem = _memory(setup, params, base, vocab, args.ngpu)
            plan.memory[key] = mem
            copies = 1 if n == 8 else max(1, len(it_variants))
            if n == 8 and setup.iters_per_epoch and setup.batch_size:
                processed = float(setup.iters_per_epoch) * setup.max_epoch * setup.batch_size * setup.max_len
            else:
                processed = (cpt.total if n == 8 else it_tok) * setup.max_epoch
            processed *= copies
            row.update(tokens=processed, gpu_mem=mem.total, gpu_hours=est.gpu_hours(processed, tps),
                       disk=copies * (est.checkpoint_bytes(params, 2 if setup.bf16 else 4) * setup.keep_checkpoints
                                      + params * 2))
        if n == 10 and train:
            row.update(tokens=it_tok * max(1, len(it_variants)),
                       disk=est.token_file_bytes(it_tok) * max(1, len(it_variants)))
        plan.rows.append(row)
    if params:
        plan.notes.append(f"throughput {tps:,.0f} tokens/s per GPU = {args.tokens_per_second:,.0f} (spire.sh "
                          f"--plan_tokens_per_second, for a 7B model) x 7e9 / {params:,.0f} parameters")
    return plan
