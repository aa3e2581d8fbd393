"""Pseudo-labelled speech translation data (spire.sh stage 9; SPIRE paper §3.3.1).

SPIRE translated 300k ASR transcripts from each of CV, SPGI and GigaSpeech into the nine target
languages with TowerInstruct-13B, dropped pairs whose CometKiwi (``Unbabel/wmt22-cometkiwi-da``)
score is under 0.85, and sampled, per language pair, 60k pairs for direct-ST prompts and another,
disjoint 60k for multi-turn prompts.  This module does the same with any local causal LM:

1. translate every transcript with the zero-shot MT prompt (``Translate the following text from
   English to German.\\nEnglish: {src}\\nGerman:``), rendered with the tokenizer's chat template
   when it has one, greedy, batched, stopping at the first newline
   (:class:`espnet_spire.lm.decode.GreedyDecoder`);
2. score each (transcript, translation) pair with CometKiwi through the COMET environment;
3. keep the pairs scoring at least the threshold (:func:`qe_filter`);
4. sample, deterministically from the seed, ``n_direct`` pairs for direct ST and a disjoint
   ``n_multiturn`` for multi-turn ST per language (:func:`split_direct_multiturn`).

Outputs under ``out_dir``: ``translations/text.tc.<lang>`` (all translations, a cache),
``qe/cometkiwi.<lang>`` (segment scores, a cache), ``direct/text.tc.<lang>`` and
``multiturn/text.tc.<lang>`` (Kaldi ``uttid translation``, sorted) and ``report.json`` /
``report.md`` (kept/total per pair, threshold, model paths).  Without a CometKiwi model the run
stops, unless the QE filter is switched off explicitly (then everything is kept and the report
says so).
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from espnet_spire.common.fileio import PathLike, write_json
from espnet_spire.common.kaldi_dir import read_kaldi_dict, sort_key, write_kaldi_file

logger = logging.getLogger(__name__)

DEFAULT_TARGETS = ("de", "fr", "es", "it", "pt", "nl", "ru", "zh", "ko")


class PseudoSTError(RuntimeError):
    """Configuration problem (e.g. no CometKiwi model and the QE filter not switched off)."""


@dataclass
class PseudoSTConfig:
    tgt_langs: Sequence[str] = DEFAULT_TARGETS
    src_lang: str = "en"
    threshold: float = 0.85
    qe_filter: bool = True
    qe_model: Optional[str] = None
    qe_encoder_dir: Optional[str] = None
    n_direct: int = 60000
    n_multiturn: int = 60000
    seed: int = 0
    max_utts: Optional[int] = None
    translator_model: str = ""
    translator_tokenizer: Optional[str] = None
    batch_size: int = 16
    max_new_tokens: int = 256
    dtype: str = "float32"
    device: str = "auto"
    use_chat_template: Optional[bool] = None
    prompt_style: str = "head"  # "cpt" for a base model prompted in its CPT format
    comet_python: Optional[str] = None
    qe_batch_size: int = 16
    qe_gpus: int = 0
    qe_precision: str = "half"
    overwrite: bool = False


# ------------------------------------------------------------------ filtering and sampling


def qe_filter(ids: Sequence[str], scores: Sequence[float], threshold: float) -> List[str]:
    """Ids whose score is at least ``threshold`` (NaN never passes), in input order."""
    if len(ids) != len(scores):
        raise ValueError(f"{len(ids)} ids but {len(scores)} scores")
    return [i for i, s in zip(ids, scores) if not math.isnan(s) and s >= threshold]


def split_direct_multiturn(
    ids: Sequence[str], n_direct: int, n_multiturn: int, seed: int, lang: str
) -> Tuple[List[str], List[str]]:
    """Two disjoint random samples (sorted) of ``ids`` for direct and multi-turn ST.

    Deterministic for a given seed, language and id set (independent of input order).  When
    fewer than ``n_direct + n_multiturn`` ids are available they are all used, shared in the
    ratio ``n_direct : n_multiturn`` (rounded in favour of direct ST).
    """
    if n_direct < 0 or n_multiturn < 0:
        raise ValueError("sample sizes must be >= 0")
    pool = sorted(set(ids), key=sort_key)
    rng = random.Random(f"spire-pseudo-st:{seed}:{lang}")
    rng.shuffle(pool)
    want = n_direct + n_multiturn
    if len(pool) < want:
        nd = int(len(pool) * n_direct / want + 0.5) if want else 0
        nm = len(pool) - nd
    else:
        nd, nm = n_direct, n_multiturn
    direct = sorted(pool[:nd], key=sort_key)
    multi = sorted(pool[nd:nd + nm], key=sort_key)
    return direct, multi


def sample_sources(ids: Sequence[str], max_utts: Optional[int], seed: int) -> List[str]:
    """All ids (sorted), or a deterministic random subset of ``max_utts`` of them."""
    pool = sorted(ids, key=sort_key)
    if max_utts is None or max_utts <= 0 or max_utts >= len(pool):
        return pool
    rng = random.Random(f"spire-pseudo-st-sources:{seed}")
    return sorted(rng.sample(pool, max_utts), key=sort_key)


# ------------------------------------------------------------------ translation


def build_prompts(tokenizer, sources: Sequence[str], src_lang: str, tgt_lang: str,
                  use_chat_template: Optional[bool], prompt_style: str = "head") -> List[str]:
    """Rendered MT prompts, built as stage 12 builds them (chat template when the tokenizer has
    one, unless told otherwise; ``cpt`` style for base models)."""
    from espnet_spire.lm.decode import Task, build_messages, render_prompt
    from espnet_spire.lm.prompts import PromptStyle

    task, style = Task("mt", src_lang, tgt_lang), PromptStyle.from_name(prompt_style)
    return [render_prompt(tokenizer, build_messages(task, s, style), use_chat_template) for s in sources]


def translate(model, tokenizer, sources: Sequence[str], src_lang: str, tgt_lang: str,
              cfg: PseudoSTConfig) -> Tuple[List[str], List[str]]:
    """(translations, prompts): greedy, batched, cut at the first newline, stripped."""
    from espnet_spire.lm.decode import DecodeConfig, GreedyDecoder

    prompts = build_prompts(tokenizer, sources, src_lang, tgt_lang, cfg.use_chat_template,
                            cfg.prompt_style)
    dec = GreedyDecoder(model, tokenizer, DecodeConfig(batch_size=cfg.batch_size,
                                                       max_new_tokens=cfg.max_new_tokens,
                                                       stop_at_newline=True))
    return [t.strip() for t in dec.generate(prompts, progress=False)], prompts


# ------------------------------------------------------------------ the stage


def _check_qe(cfg: PseudoSTConfig) -> None:
    if cfg.qe_filter and not cfg.qe_model:
        raise PseudoSTError(
            "No CometKiwi model configured for the quality filter. Pass --qe_model DIR (a local "
            "copy of Unbabel/wmt22-cometkiwi-da, which is gated on the Hugging Face Hub: accept "
            "its licence and download it yourself; espnet_spire downloads nothing), or switch the "
            "filter off explicitly with --qe_filter false (every non-empty translation is then "
            "kept, and the report says so)."
        )


def _translator_signature(cfg: PseudoSTConfig) -> Dict:
    return {
        "translator_model": os.path.abspath(cfg.translator_model),
        "translator_tokenizer": os.path.abspath(cfg.translator_tokenizer or cfg.translator_model),
        "max_new_tokens": cfg.max_new_tokens,
        "use_chat_template": cfg.use_chat_template,
        "prompt_style": cfg.prompt_style,
        "dtype": cfg.dtype,
    }


def run_pseudo_st(text_file: PathLike, out_dir: PathLike, cfg: PseudoSTConfig, model=None, tokenizer=None) -> Dict:
    """Run the whole stage; returns the report (also written as report.json / report.md).

    ``model``/``tokenizer`` may be passed in (tests); otherwise they are loaded from
    ``cfg.translator_model`` (local files only).
    """
    _check_qe(cfg)
    out = Path(out_dir)
    for sub in ("translations", "qe", "direct", "multiturn"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    transcripts = read_kaldi_dict(text_file)
    empty_src = [k for k, v in transcripts.items() if not v.strip()]
    ids = sample_sources([k for k in transcripts if k not in set(empty_src)], cfg.max_utts, cfg.seed)
    sources = [transcripts[k].strip() for k in ids]
    logger.info("pseudo-ST: %d transcripts (%d empty skipped) -> %s",
                len(ids), len(empty_src), ", ".join(cfg.tgt_langs))

    sig = _translator_signature(cfg)
    sig_file = out / "translations" / "info.json"
    old_sig = json.loads(sig_file.read_text()) if sig_file.is_file() else None
    reuse = not cfg.overwrite and old_sig == sig

    translations: Dict[str, Dict[str, str]] = {}
    prompt_examples: Dict[str, str] = {}
    for lang in cfg.tgt_langs:
        path = out / "translations" / f"text.tc.{lang}"
        if reuse and path.is_file():
            cached = read_kaldi_dict(path)
            if all(k in cached for k in ids):
                translations[lang] = {k: cached[k] for k in ids}
                logger.info("pseudo-ST %s: reusing %s", lang, path)
                continue
        if model is None:
            from espnet_spire.lm.decode import load_model_and_tokenizer

            model, tokenizer = load_model_and_tokenizer(cfg.translator_model, cfg.translator_tokenizer,
                                                        cfg.dtype, cfg.device)
        hyps, prompts = translate(model, tokenizer, sources, cfg.src_lang, lang, cfg)
        if prompts:
            prompt_examples[lang] = prompts[0]
        translations[lang] = dict(zip(ids, hyps))
        write_kaldi_file(path, translations[lang])
        logger.info("pseudo-ST %s: translated %d transcripts -> %s", lang, len(ids), path)
    sig_file.write_text(json.dumps(sig, indent=2) + "\n")

    # --- quality estimation (one COMET call for every language still to score)
    qe_scores: Dict[str, Dict[str, float]] = {}
    if cfg.qe_filter:
        qe_sig = {"qe_model": os.path.abspath(cfg.qe_model), "encoder_dir": cfg.qe_encoder_dir,
                  "precision": cfg.qe_precision, "translations": sig}
        qe_sig_file = out / "qe" / "info.json"
        qe_reuse = reuse and qe_sig_file.is_file() and json.loads(qe_sig_file.read_text()) == qe_sig
        todo: List[Tuple[str, str]] = []
        for lang in cfg.tgt_langs:
            path = out / "qe" / f"cometkiwi.{lang}"
            nonempty = [k for k in ids if translations[lang][k]]
            if qe_reuse and path.is_file():
                cached = read_kaldi_dict(path)
                if all(k in cached for k in nonempty):
                    qe_scores[lang] = {k: float(cached[k]) for k in nonempty}
                    continue
            todo += [(lang, k) for k in nonempty]
        if todo:
            from espnet_spire.scoring.comet import run_comet

            res = run_comet(
                [transcripts[k].strip() for _, k in todo],
                [translations[lang][k] for lang, k in todo],
                None,
                cfg.qe_model,
                comet_python=cfg.comet_python,
                batch_size=cfg.qe_batch_size,
                gpus=cfg.qe_gpus,
                encoder_dir=cfg.qe_encoder_dir,
                precision=cfg.qe_precision,
            )
            for (lang, k), s in zip(todo, res.scores):
                qe_scores.setdefault(lang, {})[k] = s
            for lang in {lang for lang, _ in todo}:
                write_kaldi_file(out / "qe" / f"cometkiwi.{lang}", {k: repr(v) for k, v in qe_scores[lang].items()})
        qe_sig_file.write_text(json.dumps(qe_sig, indent=2) + "\n")

    # --- filter, sample, write
    per_lang: Dict[str, Dict] = {}
    for lang in cfg.tgt_langs:
        nonempty = [k for k in ids if translations[lang][k]]
        if cfg.qe_filter:
            sc = qe_scores.get(lang, {})
            kept = qe_filter(nonempty, [sc[k] for k in nonempty], cfg.threshold)
        else:
            kept = list(nonempty)
        direct, multi = split_direct_multiturn(kept, cfg.n_direct, cfg.n_multiturn, cfg.seed, lang)
        write_kaldi_file(out / "direct" / f"text.tc.{lang}", {k: translations[lang][k] for k in direct})
        write_kaldi_file(out / "multiturn" / f"text.tc.{lang}", {k: translations[lang][k] for k in multi})
        per_lang[f"{cfg.src_lang}_{lang}"] = {
            "total": len(ids),
            "empty_translations": len(ids) - len(nonempty),
            "kept": len(kept),
            "kept_fraction": len(kept) / len(ids) if ids else 0.0,
            "direct": len(direct),
            "multiturn": len(multi),
            "shortfall": max(0, cfg.n_direct + cfg.n_multiturn - len(kept)),
        }
    report = {
        "text": os.path.abspath(text_file),
        "n_transcripts": len(transcripts),
        "n_empty_transcripts": len(empty_src),
        "n_sources": len(ids),
        "max_utts": cfg.max_utts,
        "qe_filter": cfg.qe_filter,
        "qe_filter_note": None if cfg.qe_filter else
        "QE filter switched off (--qe_filter false): every non-empty translation kept, unfiltered",
        "threshold": cfg.threshold if cfg.qe_filter else None,
        "qe_model": os.path.abspath(cfg.qe_model) if cfg.qe_model and cfg.qe_filter else None,
        "n_direct": cfg.n_direct,
        "n_multiturn": cfg.n_multiturn,
        "seed": cfg.seed,
        **sig,
        "prompt_example": prompt_examples.get(cfg.tgt_langs[0]) if cfg.tgt_langs else None,
        "pairs": per_lang,
        "outputs": {
            "direct": str(out / "direct" / "text.tc.<lang>"),
            "multiturn": str(out / "multiturn" / "text.tc.<lang>"),
            "translations": str(out / "translations" / "text.tc.<lang>"),
            "qe_scores": str(out / "qe" / "cometkiwi.<lang>") if cfg.qe_filter else None,
        },
    }
    write_json(out / "report.json", report, sort_keys=False)
    (out / "report.md").write_text(format_report(report), encoding="utf-8")
    return report


def format_report(r: Dict) -> str:
    """Human-readable report (markdown)."""
    lines = ["# Pseudo-labelled speech translation", ""]
    lines.append(f"- transcripts: `{r['text']}` ({r['n_sources']} used of {r['n_transcripts']}; "
                 f"{r['n_empty_transcripts']} empty skipped)")
    lines.append(f"- translator: `{r['translator_model']}` (tokenizer `{r['translator_tokenizer']}`), greedy, "
                 f"max {r['max_new_tokens']} new tokens, stop at newline")
    if r["qe_filter"]:
        lines.append(f"- QE filter: CometKiwi `{r['qe_model']}`, keep score >= {r['threshold']}")
    else:
        lines.append(f"- QE filter: **OFF** - {r['qe_filter_note']}")
    lines.append(f"- samples per pair: {r['n_direct']} direct + {r['n_multiturn']} multi-turn (disjoint), "
                 f"seed {r['seed']}")
    lines += ["", "|pair|total|empty|kept|kept %|direct|multi-turn|shortfall|", "|---|---|---|---|---|---|---|---|"]
    for pair, d in r["pairs"].items():
        lines.append(f"|{pair}|{d['total']}|{d['empty_translations']}|{d['kept']}|{100 * d['kept_fraction']:.1f}|"
                     f"{d['direct']}|{d['multiturn']}|{d['shortfall']}|")
    lines.append("")
    return "\n".join(lines)
