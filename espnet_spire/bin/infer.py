#!/usr/bin/env python3
"""spire-infer: audio (or text) in, text out, with a trained or released SPIRE model.

Model: --model DIR, one self-contained dir (stage 14's exp/<it_tag>/<variant>/export/: weights,
tokenizer, chat template, spire.json, kmeans/), or the parts of a released SPIRE model:
--llm HF_DIR --kmeans (SpireKMeans joblib | our k-means dir) --ssl_model HUBERT_DIR [--layer 22].
HuBERT-based dirs need --ssl_model too unless they carry it as <model>/ssl_model/.

Inputs: audio files (wav, flac, mp3, ogg/opus, sph: anything libsndfile reads, any rate and
channel count), directories (their audio files, recursively), or Kaldi wav.scp files (*.scp;
pipes allowed). For --task mt: text files, one sentence per line. The id of a file is its name
without extension.

Audio is read as stage 2 formats it (channels averaged, resampled to 16 kHz with --resampler,
16-bit) and labelled as stage 5 does; prompts and greedy decoding are stage 12's. Long audio:
a file longer than --max_chunk_s seconds is cut into ceil(duration / max_chunk_s) windows of
equal length, each decoded on its own, their texts joined by a space.

Unreadable, empty or too-short inputs are reported, skipped and listed at the end; the exit
status is 1 only when no input could be decoded.

Examples:
  spire-infer --model exp/train_it/spirefull/export --task asr a.flac b.mp3 c.wav
  spire-infer --model DIR --task st --tgt_lang de --output_format jsonl recordings/
  spire-infer --model DIR --task multiturn_st --tgt_lang de data/test/wav.scp
  spire-infer --model DIR --task mt --src_lang en --tgt_lang de sentences.txt
  spire-infer --llm SpireFull --kmeans SpireKMeans/kmeans_model --trust_pickle true --ssl_model hubert-large-ll60k a.wav
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional

from espnet_spire.audio.resample import DEFAULT_RESAMPLER, RESAMPLERS
from espnet_spire.common.cli import setup_logging, str2bool

logger = logging.getLogger("spire-infer")


def get_parser() -> argparse.ArgumentParser:
    from espnet_spire.infer.model import TASKS
    from espnet_spire.infer.output import FORMATS

    p = argparse.ArgumentParser(prog="spire-infer", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", help="audio files, dirs or wav.scp files (mt: text files)")
    m = p.add_argument_group("model (either --model, or --llm with --kmeans and --ssl_model)")
    m.add_argument("--model", help="self-contained model dir (stage 14 export/)")
    m.add_argument("--llm", help="HF LLM dir of a released SPIRE model")
    m.add_argument("--kmeans", help="k-means model: SpireKMeans joblib, centers.npy or our k-means dir")
    m.add_argument("--trust_pickle", type=str2bool, default=False,
                   help="load a joblib (pickle) k-means file: unpickling runs code, so only for files you trust "
                        "(or convert it once: python -m espnet_spire.bin.convert_kmeans)")
    m.add_argument("--ssl_model", help="local HF HuBERT dir the k-means model was learnt on")
    m.add_argument("--layer", type=int, default=22, help="SSL layer when the k-means model does not record it")
    t = p.add_argument_group("task")
    t.add_argument("--task", default="asr", choices=TASKS, help="multiturn_st: transcript, then translation")
    t.add_argument("--src_lang", default="en", help="source language (mt)")
    t.add_argument("--tgt_lang", default=None, help="target language (st, multiturn_st, mt), e.g. de")
    r = p.add_argument_group("run")
    r.add_argument("--output_format", default="text", choices=FORMATS,
                   help="text: one hypothesis per line; kaldi: 'id hyp'; jsonl: one JSON object per input")
    r.add_argument("--output", default="-", help="output file (default: stdout)")
    r.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    r.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"], help="LLM dtype")
    r.add_argument("--ssl_dtype", default="fp32", choices=["fp32", "bf16"], help="SSL model dtype")
    r.add_argument("--batch_size", type=int, default=8, help="files featurised and prompts decoded together")
    r.add_argument("--max_new_tokens", type=int, default=256)
    r.add_argument("--max_chunk_s", type=float, default=30.0,
                   help="longer audio is cut into equal windows of at most this length (0: never)")
    r.add_argument("--resampler", default=DEFAULT_RESAMPLER, choices=RESAMPLERS,
                   help="for audio not at 16 kHz; soxr_hq is what SpireLM's labeller uses")
    r.add_argument("--log_level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return p


def load_model(args: argparse.Namespace, parser: argparse.ArgumentParser):
    """The model named by --model or by --llm/--kmeans/--ssl_model."""
    from espnet_spire.infer.model import InferConfig, SpireModel
    from espnet_spire.infer.units import UnitConfig

    cfg = InferConfig(device=args.device, dtype=args.dtype, batch_size=args.batch_size,
                      max_new_tokens=args.max_new_tokens, max_chunk_s=args.max_chunk_s, resampler=args.resampler,
                      units=UnitConfig(ssl_model=args.ssl_model, layer=args.layer, ssl_dtype=args.ssl_dtype,
                                       device=args.device, trust_pickle=args.trust_pickle))
    if args.model:
        if args.llm:
            parser.error("give --model or --llm, not both")
        if args.kmeans:
            return SpireModel(args.model, args.kmeans, cfg)
        return SpireModel.from_pretrained(args.model, cfg)
    if not args.llm:
        parser.error("give --model DIR, or --llm DIR with --kmeans and --ssl_model")
    if not args.kmeans and args.task != "mt":
        parser.error("--llm needs --kmeans for speech tasks")
    return SpireModel(args.llm, args.kmeans, cfg)


def main(argv: Optional[List[str]] = None) -> int:
    from espnet_spire.infer.inputs import audio_sources, text_sources
    from espnet_spire.infer.model import task_for
    from espnet_spire.infer.output import skipped_report, write_outputs

    parser = get_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    try:
        task_for(args.task, args.src_lang, args.tgt_lang)  # a bad task fails before any loading
        sources = text_sources(args.inputs) if args.task == "mt" else audio_sources(args.inputs)
        model = load_model(args, parser)
        result = model.run(sources, args.task, args.tgt_lang, args.src_lang, progress=True)
    except (ValueError, FileNotFoundError) as exc:
        logger.debug("details", exc_info=True)
        logger.error("%s", exc)
        return 1
    if args.output == "-":
        write_outputs(result.outputs, args.output_format, sys.stdout)
        sys.stdout.flush()
    else:
        with open(args.output, "w", encoding="utf-8") as f:
            write_outputs(result.outputs, args.output_format, f)
    report = skipped_report(result.skipped, len(sources))
    if report:
        print(report, file=sys.stderr)
    if not result.outputs:
        logger.error("no input could be decoded")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
