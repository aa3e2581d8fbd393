#!/usr/bin/env python3
"""Stage 12: greedy decoding of SPIRE tasks into ESPnet decode dirs.

For each task in ``--tasks`` (``asr``, ``st_<lang>``, ``mt_<src>_<tgt>``, ``multiturn_st_<lang>``)
writes ``<output_dir>/<task>/text`` (``uttid hyp``, sorted), ``prompts.jsonl``,
``decode_info.json`` (and ``asr_text`` for multi-turn ST). Speech tasks read ``--units``; MT reads
``<mt_text_dir>/text.tc.<src>`` (or ``--input`` when one task is given). ``--keys_file`` limits
the run to some utterances (for nj splitting with run.pl; merge the per-job ``text`` files with
``sort``).

Only the model dir is needed: the tokenizer is the model dir's own (``--tokenizer_dir``
overrides) and the prompt style is the one recorded in its ``spire.json`` (``--prompt_style``
overrides; base LLMs without ``spire.json`` are prompted ``head`` unless told otherwise).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass
from typing import List, Optional

from espnet_spire.common.cli import parse_with_config, seed_everything, setup_logging, split_words, str2bool
from espnet_spire.lm.decode import (
    DecodeConfig,
    decode_task,
    load_model_and_tokenizer,
    model_prompt_style,
    parse_task,
)
from espnet_spire.lm.prompts import PromptStyle


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="YAML with option defaults (e.g. conf/decode.yaml)")
    p.add_argument("--model_dir", required=True, help="HF causal LM dir")
    p.add_argument("--tokenizer_dir", default=None, help="default: the model dir's own tokenizer")
    p.add_argument("--tasks", nargs="+", default=None, help="asr st_de mt_en_de multiturn_st_de ...")
    p.add_argument("--units", default=None, help="units file (uttid units) for speech tasks")
    p.add_argument("--mt_text_dir", default=None, help="dir with text.tc.<lang> files for MT tasks")
    p.add_argument("--input", default=None, help="input file when a single task is given (overrides the above)")
    p.add_argument("--transcripts", default=None, help="Kaldi text with first-turn transcripts for multi-turn ST")
    p.add_argument("--output_dir", default=None, help="e.g. exp/<model>/decode_<tag>/<test_set>")
    p.add_argument("--job_list", default=None,
                   help="decode several test sets with one model load, instead of --tasks/--output_dir/"
                        "--keys_file/--units/--mt_text_dir: a TSV file, one line per set, "
                        "'output_dir<TAB>keys_file<TAB>units<TAB>mt_text_dir<TAB>tasks' ('-' for none; "
                        "tasks separated by spaces)")
    p.add_argument("--keys_file", default=None, help="only decode these ids (first column)")
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--max_new_tokens", type=int, default=256)
    p.add_argument("--stop_at_newline", type=str2bool, default=True)
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    p.add_argument("--device", default="auto")
    p.add_argument("--use_chat_template", default="auto", choices=["auto", "true", "false"])
    p.add_argument("--prompt_style", default=None, choices=["head", "paper", "cpt"],
                   help="default: the model's spire.json, else head; cpt: base models, prompted in their "
                        "CPT format (Table 10)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log_level", default="INFO")
    return p


@dataclass
class DecodeJob:
    """One test set's share of a decoding run: what to decode and where to write it."""

    output_dir: str
    tasks: List[str]
    keys_file: Optional[str] = None
    units: Optional[str] = None
    mt_text_dir: Optional[str] = None


def read_decode_jobs(path: str) -> List[DecodeJob]:
    """The lines of a ``--job_list`` file."""
    from espnet_spire.common.jobs import read_job_list

    rows = read_job_list(path, ("output_dir", "keys_file", "units", "mt_text_dir", "tasks"),
                         optional=("keys_file", "units", "mt_text_dir"))
    return [DecodeJob(r["output_dir"], r["tasks"].split(), r["keys_file"], r["units"], r["mt_text_dir"]) for r in rows]


def main(argv: Optional[List[str]] = None) -> int:
    parser = get_parser()
    args = parse_with_config(parser, argv)
    setup_logging(args.log_level)
    seed_everything(args.seed)
    if args.job_list:
        if args.tasks or args.output_dir or args.keys_file or args.units or args.mt_text_dir or args.input:
            parser.error("--job_list replaces --tasks, --output_dir, --keys_file, --units, --mt_text_dir and --input")
        from espnet_spire.common.jobs import JobError

        try:
            jobs = read_decode_jobs(args.job_list)
        except JobError as e:
            parser.error(str(e))
    else:
        if not args.tasks or not args.output_dir:
            parser.error("--tasks and --output_dir are required (or --job_list)")
        jobs = [DecodeJob(args.output_dir, split_words(args.tasks), args.keys_file, args.units, args.mt_text_dir)]
    for job in jobs:
        tasks = [parse_task(t) for t in job.tasks]
        if args.input and len(tasks) != 1:
            parser.error("--input needs exactly one task")
        for task in tasks:
            if not args.input and task.speech and not job.units:
                parser.error(f"task {task.name} needs --units")
            if not args.input and not task.speech and not job.mt_text_dir:
                parser.error(f"task {task.name} needs --mt_text_dir")
    transcripts = None
    if args.transcripts:
        from espnet_spire.lm.sources import read_text

        transcripts = read_text(args.transcripts)
    cfg = DecodeConfig(batch_size=args.batch_size, max_new_tokens=args.max_new_tokens,
                       stop_at_newline=args.stop_at_newline, dtype=args.dtype, device=args.device,
                       use_chat_template=None if args.use_chat_template == "auto" else args.use_chat_template == "true",
                       style=PromptStyle.from_name(args.prompt_style or model_prompt_style(args.model_dir)))
    model, tok = load_model_and_tokenizer(args.model_dir, args.tokenizer_dir, args.dtype, args.device)
    for job in jobs:
        decode_job(model, tok, job, cfg, args.input, transcripts)
    return 0


def decode_job(model, tok, job: DecodeJob, cfg: DecodeConfig, input_file: Optional[str] = None,
               transcripts=None) -> None:
    """Every task of one test set with a loaded model."""
    keys = None
    if job.keys_file:
        from espnet_spire.common.kaldi_dir import read_key_list

        keys = read_key_list(job.keys_file)
    for name in job.tasks:
        task = parse_task(name)
        if input_file:
            inp = input_file
        elif task.speech:
            inp = job.units
        else:
            inp = os.path.join(job.mt_text_dir, f"text.tc.{task.src}")
        decode_task(model, tok, task.name, inp, os.path.join(job.output_dir, task.name), cfg, keys, transcripts)
    logging.info("decoded %d task(s) into %s", len(job.tasks), job.output_dir)


if __name__ == "__main__":
    sys.exit(main())
