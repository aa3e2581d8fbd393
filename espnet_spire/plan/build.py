"""The plan of a run: input problems (:mod:`.check`), then one row of estimates per selected stage.

Each stage's row comes from the dirs of the data roles it reads (:mod:`.roles`): stages 1-2 and 5
from every speech dir, 3 from ``--kmeans_sets``, 7 from ``--cpt_speech_sets`` and the CPT text
roles, 9 from ``--pseudo_st_sets``, 10-11 from the IT mixtures over their roles, 12 from the test
sets.
"""

from __future__ import annotations

import argparse
import math
import os
from dataclasses import dataclass
from typing import Dict, Iterable, Mapping, Optional

from espnet_spire.plan import estimates as est
from espnet_spire.plan.check import MFCC_DIM, Plan, check_inputs
from espnet_spire.plan.inputs import DataStats, ModelShape, TrainSetup, count_file_lines
from espnet_spire.plan.it_counts import RoleSize, mixture_counts
from espnet_spire.plan.roles import derived_sets, role_sets

__all__ = ["Plan", "build_plan", "STAGE_NAMES"]

STAGE_NAMES = {1: "data preparation", 2: "audio formatting", 3: "k-means features", 4: "k-means",
               5: "unit labelling", 6: "tokenizer + model extension", 7: "CPT data", 8: "CPT training",
               9: "pseudo-labelled ST", 10: "IT data", 11: "IT training", 12: "decoding",
               13: "scoring", 14: "export", 15: "upload"}
EMBEDDING_MULTIPLE = 64
NUM_SPECIALS = 5


@dataclass(frozen=True)
class Totals:
    """Sizes of the speech dirs of one role, summed."""

    utts: int
    seconds: float
    transcript_tokens: float
    units: float

    @property
    def hours(self) -> float:
        return self.seconds / 3600.0

    def per_utt(self, value: float) -> float:
        return value / self.utts if self.utts else 0.0


def _totals(data: Mapping[str, DataStats], names: Iterable[str], feature_type: str, dedup: bool) -> Totals:
    """Sum of the dirs' sizes; units measured where ``dump/units`` exists, else estimated."""
    stats = [data[n] for n in names if n in data]
    units = sum(float(s.units) if s.units is not None else est.units_count(s.seconds, feature_type, dedup)
                for s in stats)
    return Totals(sum(s.utts for s in stats), sum(s.seconds for s in stats),
                  est.text_tokens(sum(s.transcript_chars for s in stats)), units)


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


def _mixture_vars(value: str) -> Dict[str, str]:
    """``--it_mixture_vars "NAME=VALUE ..."`` as stage 10 passes them (one ``--var`` each)."""
    out = {}
    for item in value.split():
        if "=" not in item:
            raise ValueError(f"--it_mixture_vars expects NAME=VALUE words, got {item!r}")
        name, val = item.split("=", 1)
        out[name] = val
    return out


def _it_role_sizes(args: argparse.Namespace, plan: Plan, tot, pseudo_utts: int) -> Dict[str, RoleSize]:
    """What each IT role holds (examples per language and tokens per example)."""
    roles = role_sets(args)
    langs = args.tgt_langs.split()
    sizes: Dict[str, RoleSize] = {}
    asr = tot(roles["it_asr_sets"])
    if asr.utts:
        sizes["it_asr"] = RoleSize({None: asr.utts}, asr.per_utt(asr.units + asr.transcript_tokens))
    st = tot(roles["st_sets"])
    st_avail = {lang: sum(plan.st_lines.get(n, {}).get(lang, 0) for n in roles["st_sets"]) for lang in langs}
    st_avail = {k: v for k, v in st_avail.items() if v}
    if st_avail:   # translations assumed as long as the transcripts
        sizes["st"] = RoleSize(st_avail, st.per_utt(st.units + st.transcript_tokens))
    ps = tot(roles["pseudo_st_sets"])
    if pseudo_utts:
        direct = min(args.pseudo_st_n_direct, pseudo_utts)
        multi = min(args.pseudo_st_n_multiturn, max(0, pseudo_utts - args.pseudo_st_n_direct))
        sizes["pseudo_out"] = RoleSize({lang: direct for lang in langs}, ps.per_utt(ps.units + ps.transcript_tokens))
        sizes["pseudo_out_multiturn"] = RoleSize({lang: multi for lang in langs},
                                                 ps.per_utt(ps.units + 2 * ps.transcript_tokens))
    mt_avail: Dict[Optional[str], int] = {}
    mt_bytes, mt_lines = 0, 0
    for name in roles["it_mt_sets"]:
        t = plan.text.get(name)
        if t is None or not t.lines:
            continue
        for lang in t.langs:
            if lang != args.src_lang and lang in langs:
                mt_avail[lang] = mt_avail.get(lang, 0) + t.lines
        mt_bytes, mt_lines = mt_bytes + sum(t.bytes.values()), mt_lines + t.lines * len(t.bytes)
    if mt_avail:
        sizes["it_mt"] = RoleSize(mt_avail, 2 * est.text_tokens(mt_bytes / mt_lines))
    if args.towerblocks and os.path.isfile(args.towerblocks):
        lines = count_file_lines(args.towerblocks)
        if lines:
            sizes["towerblocks"] = RoleSize({None: lines}, est.text_tokens(os.path.getsize(args.towerblocks) / lines))
    return sizes


def build_plan(args: argparse.Namespace) -> Plan:
    """Check the inputs and, when every input is there, estimate each selected stage."""
    sel = {int(s) for s in args.stages.split()}
    plan = Plan()
    found = check_inputs(args, sel, plan)
    if plan.problems:
        return plan
    k = int(found.get("k") or args.nclusters)
    roles, derived = role_sets(args), derived_sets(args)

    def tot(names: Iterable[str]) -> Totals:
        return _totals(plan.data, names, args.feature_type, args.dedup)

    speech, unit = tot(derived["speech_sets"]), tot(derived["unit_sets"])
    measured = sorted(n for n, s in plan.data.items() if s.units is not None)
    plan.notes.append(
        (f"units measured in dump/units for {', '.join(measured)}; elsewhere " if measured else "units = ")
        + f"seconds x {est.FRAME_RATE[args.feature_type]:g} Hz x dedup factor "
        f"{est.DEDUP_FACTOR[args.feature_type] if args.dedup else 1.0:g} (assumed)")
    base: Optional[ModelShape] = found.get("base")  # type: ignore[assignment]
    params = _extended_params(base, k) if base else 0.0
    vocab = math.ceil((base.vocab + NUM_SPECIALS + k) / EMBEDDING_MULTIPLE) * EMBEDDING_MULTIPLE if base else 0
    tps = est.tokens_per_second(params, args.tokens_per_second) if params else args.tokens_per_second
    langs = args.tgt_langs.split()
    ps = tot(roles["pseudo_st_sets"])
    pseudo_utts = min(ps.utts, args.pseudo_st_max_utts) if args.pseudo_st_max_utts > 0 else ps.utts

    cpt = None
    if sel & {7, 8}:
        from espnet_spire.lm.cpt_data import parse_ratio

        opts = found.get("cpt_opts")
        sp = tot(roles["cpt_speech_sets"])
        text_names = [n for n in roles["cpt_mono_sets"] + roles["cpt_mt_sets"] if n in plan.text]
        text_bytes = sum(sum(plan.text[n].bytes.values()) for n in text_names)
        ratio = parse_ratio(opts.speech_text_ratio if opts else args.cpt_ratio)
        budget = args.cpt_token_budget or (opts.max_tokens if opts and opts.max_tokens else 0)
        cpt = est.cpt_tokens(sp.units, sp.transcript_tokens, sp.utts, ratio, budget,
                             text_available=est.text_tokens(text_bytes))
        ratio_s = opts.speech_text_ratio if opts else args.cpt_ratio
        from_opts = " (--cpt_data_opts --max_tokens)" if budget and not args.cpt_token_budget else ""
        plan.notes.append(
            f"CPT: speech {cpt.speech:,.0f} tokens ({cpt.used_share:.0%} of the {sp.hours:,.1f} h of "
            f"--cpt_speech_sets) + text {cpt.text:,.0f} of {est.text_tokens(text_bytes):,.0f} tokens in "
            f"--cpt_mono_sets/--cpt_mt_sets ({text_bytes:,} bytes / {est.CHARS_PER_TOKEN:g}); ratio {ratio_s}, "
            f"budget {budget:,.0f}{from_opts}")

    it_variants = [v for v in args.variants.split() if v != "spirebase"]
    it_tokens: Dict[str, float] = {}
    if sel & {10, 11}:
        sizes = _it_role_sizes(args, plan, tot, pseudo_utts)
        try:
            variables = _mixture_vars(args.it_mixture_vars)
            for v, path in dict(found.get("mixtures") or {}).items():  # type: ignore[arg-type]
                counts = mixture_counts(path, variables, langs, sizes, sizes.get("pseudo_out_multiturn"))
                it_tokens[v] = sum(c.tokens for c in counts)
                parts = " + ".join(f"{c.name} {c.examples:,}" for c in counts)
                plan.notes.append(f"IT {v} ({path}): {parts} = {sum(c.examples for c in counts):,} examples, "
                                  f"{it_tokens[v]:,.0f} tokens")
        except ValueError as exc:
            plan.problems.append(f"IT mixture: {exc}")
            return plan

    for n in sorted(sel):
        row: Dict[str, object] = {"stage": n, "what": STAGE_NAMES.get(n, "?")}
        if n in (1, 2) and speech.utts:
            row.update(hours=speech.hours, utts=speech.utts)
        if n == 2 and speech.utts:
            row["disk"] = est.audio_dump_bytes(speech.seconds)
        if n == 3 and not args.kmeans_model:
            km = tot(roles["kmeans_sets"])
            rate = est.FRAME_RATE[args.feature_type]
            frames = km.seconds * rate
            used = min(frames * args.kmeans_portion, float(args.kmeans_max_frames))
            row.update(hours=used / rate / 3600.0, utts=round(km.utts * args.kmeans_portion),
                       disk=est.kmeans_feature_bytes(frames, int(found.get("feat_dim", MFCC_DIM)),
                                                     args.kmeans_max_frames, args.kmeans_portion))
            plan.notes.append(f"k-means: {args.kmeans_portion:g} of the {km.hours:,.1f} h of --kmeans_sets sampled, "
                              f"at most {args.kmeans_max_frames:,} frames (--kmeans_max_frames): "
                              f"{used:,.0f} frames = {used / rate / 3600.0:,.1f} h")
        if n == 4 and not args.kmeans_model:
            row["disk"] = k * int(found.get("feat_dim", MFCC_DIM)) * 4 * 2.0
        if n == 5 and unit.utts:
            row.update(hours=unit.hours, utts=unit.utts, units=unit.units,
                       disk=est.units_text_bytes(unit.units, unit.utts))
        if n == 6 and base:
            row["disk"] = params * base.weight_bytes
        if n == 7 and cpt is not None:
            sp = tot(roles["cpt_speech_sets"])
            row.update(hours=sp.hours, utts=sp.utts, units=sp.units, tokens=cpt.total,
                       disk=est.token_file_bytes(cpt.total))
        if n == 9 and pseudo_utts:
            translator: Optional[ModelShape] = found.get("translator")  # type: ignore[assignment]
            t_params = translator.params if translator else est.REFERENCE_PARAMS
            t_tps = est.tokens_per_second(t_params, args.translate_tokens_per_second)
            tokens = est.pseudo_st_tokens(pseudo_utts, len(langs), ps.per_utt(ps.transcript_tokens))
            row.update(hours=ps.hours * pseudo_utts / ps.utts, utts=pseudo_utts, tokens=tokens,
                       gpu_mem=t_params * 2, gpu_hours=est.gpu_hours(tokens, t_tps))
            plan.notes.append(
                f"pseudo-ST: {pseudo_utts:,} transcripts of --pseudo_st_sets x {len(langs)} languages = "
                f"{pseudo_utts * len(langs):,} translations, {tokens:,.0f} tokens (prompt + output) by "
                f"{translator.path if translator else '?'} ({t_params / 1e9:.1f}B parameters, bf16 weights) at "
                f"{t_tps:,.0f} tokens/s per GPU = {args.translate_tokens_per_second:,.0f} "
                "(--translate_tokens_per_second, a 7B model; assumed, not measured) x 7e9 / parameters; "
                "CometKiwi scoring not included")
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
            elif n == 8:
                processed = (cpt.total if cpt else 0.0) * setup.max_epoch
            else:
                processed = sum(it_tokens.values()) * setup.max_epoch
            row.update(tokens=processed, gpu_mem=mem.total, gpu_hours=est.gpu_hours(processed, tps),
                       disk=copies * (est.checkpoint_bytes(params, 2 if setup.bf16 else 4) * setup.keep_checkpoints
                                      + params * 2))
        if n == 10 and it_tokens:
            total = sum(it_tokens.values())
            row.update(tokens=total, disk=est.token_file_bytes(total))
        if n == 12:
            tests = tot(roles["test_sets"])
            segments = sum(plan.text[t].lines or 0 for t in roles["text_test_sets"] if t in plan.text)
            row.update(hours=tests.hours, utts=tests.utts)
            plan.notes.append(f"decoding: {tests.utts:,} utterances of --test_sets and {segments:,} segments of "
                              f"--text_test_sets, each on the tasks it has references for, per model")
        plan.rows.append(row)
    if params:
        plan.notes.append(f"throughput {tps:,.0f} tokens/s per GPU = {args.tokens_per_second:,.0f} (spire.sh "
                          f"--plan_tokens_per_second, for a 7B model) x 7e9 / {params:,.0f} parameters")
    return plan

