#!/usr/bin/env python3
"""Decoding throughput: utterances per second, batched vs one by one, on a tiny random SPIRE model.

Builds everything in a temporary dir (a sentencepiece model trained on a few built-in lines,
extended with K units; a random LlamaForCausalLM), renders ASR prompts for random unit strings,
and decodes them with :class:`espnet_spire.lm.decode.GreedyDecoder` twice: ``--batch_size`` at a
time and one at a time. Newline stopping is off so every utterance generates ``--max_new_tokens``
tokens and both runs do the same work. Prints both rates, their ratio, and whether the outputs
agree. Usage::

    python bench/decode_throughput.py [--utterances 64] [--batch_size 16] [--max_new_tokens 32]
        [--hidden 64] [--layers 2] [--device auto] [--dtype float32] [--threads 1] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))



def build(tmp: str, num_units: int, hidden: int, layers: int, seed: int):
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from espnet_spire.demo.lexicon import load_lexicon
    from espnet_spire.demo.sampling import sample_sentences
    from espnet_spire.demo.toy_base import train_spm
    from espnet_spire.lm.tokenizer_extension import extend_tokenizer, padded_size

    base = os.path.join(tmp, "base")
    os.makedirs(base)
    # Ten-language text of the demo world and the recipe's own Llama-style spm settings.
    sents = sample_sentences(load_lexicon(), 200, random.Random(seed), set())
    train_spm([s for sent in sents for s in sent.values()], Path(base), 1000)
    extend_tokenizer(base, os.path.join(tmp, "tok"), num_units, check=False)
    tok = AutoTokenizer.from_pretrained(os.path.join(tmp, "tok", "instruct"))
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=padded_size(len(tok)), hidden_size=hidden, intermediate_size=2 * hidden,
                      num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                      max_position_embeddings=4096, bos_token_id=1, eos_token_id=tok.eos_token_id)
    return LlamaForCausalLM(cfg).eval(), tok


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--utterances", type=int, default=64)
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--max_new_tokens", type=int, default=32)
    p.add_argument("--num_units", type=int, default=500)
    p.add_argument("--min_units", type=int, default=50)
    p.add_argument("--max_units", type=int, default=200)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads on CPU (0: torch default)")
    p.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    args = p.parse_args(argv)

    import numpy as np
    import torch

    from espnet_spire.lm.decode import DecodeConfig, GreedyDecoder, resolve_device
    from espnet_spire.lm.prompts import asr_prompt, render_chat, user_turn
    from espnet_spire.units.dsu_format import indices2dsus

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        model, tok = build(tmp, args.num_units, args.hidden, args.layers, args.seed)
    device = resolve_device(args.device)
    model = model.to(device=device, dtype=getattr(torch, args.dtype))
    rng = np.random.default_rng(args.seed)
    prompts = [render_chat(user_turn(asr_prompt(indices2dsus(
        rng.integers(0, args.num_units, size=int(rng.integers(args.min_units, args.max_units + 1))).tolist()))))
        for _ in range(args.utterances)]

    def run(bs: int):
        dec = GreedyDecoder(model, tok, DecodeConfig(batch_size=bs, max_new_tokens=args.max_new_tokens,
                                                     stop_at_newline=False))
        dec.generate(prompts[: min(2, len(prompts))], progress=False)  # warm-up
        if device == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        out = dec.generate(prompts, progress=False)
        if device == "cuda":
            torch.cuda.synchronize()
        return out, time.perf_counter() - t

    single, t1 = run(1)
    batched, tb = run(args.batch_size)
    res = {
        "device": device,
        "dtype": args.dtype,
        "utterances": args.utterances,
        "max_new_tokens": args.max_new_tokens,
        "batch_size": args.batch_size,
        "one_by_one_utt_per_s": args.utterances / t1,
        "batched_utt_per_s": args.utterances / tb,
        "speedup": t1 / tb,
        "outputs_identical": single == batched,
        "threads": torch.get_num_threads(),
        "model": f"llama hidden {args.hidden}, {args.layers} layers, vocab {model.config.vocab_size}",
    }
    print(f"device {device} ({args.dtype}), {args.utterances} utterances, {args.max_new_tokens} new tokens each")
    print(f"one by one : {res['one_by_one_utt_per_s']:8.2f} utt/s")
    print(f"batched {args.batch_size:<3}: {res['batched_utt_per_s']:8.2f} utt/s")
    print(f"ratio      : {res['speedup']:8.2f}x   (outputs identical: {res['outputs_identical']})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
