#!/usr/bin/env python3
"""Training throughput with and without packing (SPIRE LLM task, tiny random Llama, CPU/GPU).

One run trains the same synthetic documents three ways through the real training path
(``SpireLMTask.main``: ESPnet iterator, collate, masked loss, optimizer):

* ``unpacked/random``  one document per sample, mini-batches of ``--batch_size`` in random order
  (``batch_type unsorted``);
* ``unpacked/sorted``  one document per sample, length-sorted mini-batches (``batch_type sorted``,
  the task's default);
* ``packed``           documents packed first-fit into ``--max_len`` sequences, padded to
  ``max_len`` in the data (as the CPT builder writes them), mini-batches of
  ``batch_size * mean_doc_len / max_len`` sequences (about the same real tokens per step).

and prints, per way: real tokens (documents, incl. BOS/EOS) per second, processed tokens
(real + padding) per second, the padding share (padding / processed tokens) and the ratios to
the unpacked ways.  Time = the training phase of the last epoch (ESPnet reporter), so model
loading, data indexing and the first-epoch warm-up are excluded.

Packing uses ``espnet_spire.lm.cpt_data.pack`` (the CPT data builder's first-fit packer) when it
can be imported, else a small first-fit packer of this script.  Documents are synthetic
(lognormal lengths, ASR-utterance-like), so no corpus is needed.

    python bench/train_throughput.py                 # ~30 s on 2 CPU cores
    python bench/train_throughput.py --ngpu 1 --hidden 1024 --layers 8 --head_dim 128 --docs 4000

Reading the numbers: packing removes the padding, but every packed row is ``max_len`` long and
documents attend across their boundaries (no block-diagonal mask), so attention work per token
grows with ``max_len``.  For small models on a CPU that attention cost can outweigh the padding
saved (packed rows are then slower than length-sorted unpacked batches); for a 7B model
(hidden 4096) the per-token matrix work dominates and the padding share is what matters.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import List

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(REPO / "tools" / "torch_extensions"))


def make_docs(n: int, mean: float, max_len: int, vocab: int, seed: int) -> List[List[int]]:
    rng = np.random.default_rng(seed)
    sigma = 0.6
    mu = np.log(mean) - sigma**2 / 2
    lengths = np.clip(rng.lognormal(mu, sigma, size=n).astype(int), 8, max_len - 2)
    docs = []
    for n_tok in lengths:
        start, step = int(rng.integers(3, vocab - 10)), int(rng.choice([1, 2, 3]))
        body = (start + step * np.arange(n_tok)) % (vocab - 10) + 3
        docs.append([1] + [int(x) for x in body] + [2])  # <s> ... </s>
    return docs


def write_split(path: Path, samples) -> None:
    path.mkdir(parents=True, exist_ok=True)
    with open(path / "input_ids", "w") as fi, open(path / "loss_mask", "w") as fm:
        for i, (ids, mask) in enumerate(samples):
            fi.write(f"s{i:06d} " + " ".join(map(str, ids)) + "\n")
            fm.write(f"s{i:06d} " + " ".join(map(str, mask)) + "\n")


def unpacked_samples(docs):
    return [(d, [0] + [1] * (len(d) - 1)) for d in docs]


def packed_samples(docs, bins, max_len, pad_id):
    out = []
    for b in bins:
        ids, mask = [], []
        for i in b:
            ids += docs[i]
            mask += [0] + [1] * (len(docs[i]) - 1)
        n_pad = max_len - len(ids)
        out.append((ids + [pad_id] * n_pad, mask + [0] * n_pad))
    return out


def batches_of(shape_file: Path, batch_type: str, batch_size: int):
    """The mini-batches ESPnet builds for this shape file (same sampler as training)."""
    from espnet2.samplers.build_batch_sampler import build_batch_sampler

    sampler = build_batch_sampler(
        type=batch_type, batch_size=batch_size, batch_bins=0, shape_files=[str(shape_file)],
        sort_in_batch="descending", sort_batch="descending", drop_last=False,
    )
    return list(sampler)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--docs", type=int, default=600)
    p.add_argument("--mean_len", type=float, default=120.0)
    p.add_argument("--max_len", type=int, default=512)
    p.add_argument("--batch_size", type=int, default=16, help="unpacked sequences per batch")
    p.add_argument("--epochs", type=int, default=2, help="the last one is timed")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--head_dim", type=int, default=32, help="attention heads = hidden / head_dim")
    p.add_argument("--vocab", type=int, default=320)
    p.add_argument("--ngpu", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: as is)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workdir", default=None, help="keep the data and exp dirs here")
    p.add_argument("--json", default=None, help="also write the results as JSON")
    args = p.parse_args(argv)

    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from espnet_spire.tasks.spire_lm import SpireLMTask
    from espnet_spire.train.data import derive_shape_file

    if args.threads:
        torch.set_num_threads(args.threads)
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="spire_bench_"))
    work.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(args.seed)
    model_dir = work / "model"
    heads = max(2, args.hidden // args.head_dim)
    LlamaForCausalLM(LlamaConfig(
        vocab_size=args.vocab, hidden_size=args.hidden, intermediate_size=2 * args.hidden,
        num_hidden_layers=args.layers, num_attention_heads=heads,
        num_key_value_heads=max(1, heads // 2), max_position_embeddings=args.max_len,
        tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, pad_token_id=2,
    )).save_pretrained(model_dir)

    docs = make_docs(args.docs, args.mean_len, args.max_len, args.vocab, args.seed)
    real_tokens = sum(len(d) for d in docs)
    from espnet_spire.lm.cpt_data import pack

    packer_name = "espnet_spire.lm.cpt_data.pack"
    bins = pack([len(d) for d in docs], args.max_len)
    write_split(work / "data/unpacked", unpacked_samples(docs))
    write_split(work / "data/packed", packed_samples(docs, bins, args.max_len, pad_id=2))
    valid = work / "data/valid"
    write_split(valid, unpacked_samples(docs[:8]))
    packed_bs = max(1, round(args.batch_size * (real_tokens / len(docs)) / args.max_len))

    ways = [
        ("unpacked/random", "unpacked", "unsorted", args.batch_size),
        ("unpacked/sorted", "unpacked", "sorted", args.batch_size),
        ("packed", "packed", "sorted", packed_bs),
    ]
    results = {}
    for name, split, batch_type, bs in ways:
        data = work / "data" / split
        exp = work / ("exp_" + name.replace("/", "_"))
        shutil.rmtree(exp, ignore_errors=True)
        shape = derive_shape_file(data / "input_ids", work / f"shape_{split}")
        batches = batches_of(shape, batch_type, bs)
        lens = {ln.split()[0]: int(ln.split()[1]) for ln in shape.read_text().splitlines()}
        processed = sum(len(b) * max(lens[k] for k in b) for b in batches)
        cmd = [
            "--model_dir", str(model_dir), "--output_dir", str(exp), "--ngpu", str(args.ngpu),
            "--seed", str(args.seed), "--num_workers", "0", "--batch_type", batch_type,
            "--batch_size", str(bs), "--max_epoch", str(args.epochs), "--optim", "adamw",
            "--optim_conf", '{"lr": 0.001}', "--use_matplotlib", "false",
            "--keep_nbest_models", "1", "--hf_export", "false", "--log_interval", "100000",
            "--attn_implementation", "sdpa", "--train_shape_file", str(shape),
            "--valid_batch_size", "8",
        ]
        for mode, d in (("train", data), ("valid", valid)):
            for key in ("input_ids", "loss_mask"):
                cmd += [f"--{mode}_data_path_and_name_and_type", f"{d}/{key},{key},spire_text_int"]
        t0 = time.perf_counter()
        SpireLMTask.main(cmd=cmd)
        wall = time.perf_counter() - t0
        state = torch.load(exp / "checkpoint.pth", map_location="cpu", weights_only=False)
        stats = state["reporter"]["stats"][args.epochs]["train"]
        secs = stats["time"].total_seconds()
        results[name] = dict(
            batch_type=batch_type, batch_size=bs, batches=len(batches),
            real_tokens=real_tokens, processed_tokens=processed,
            padding_share=1 - real_tokens / processed, seconds=secs,
            real_tokens_per_s=real_tokens / secs, processed_tokens_per_s=processed / secs,
            final_train_loss=float(stats["loss"]), wall_seconds_total=wall,
        )

    print()
    print(f"model: Llama hidden {args.hidden}, {args.layers} layers, {heads} heads; device: "
          f"{'cuda' if args.ngpu else 'cpu'} (torch threads {torch.get_num_threads()})")
    print(f"data: {len(docs)} documents, {real_tokens} tokens (mean {real_tokens / len(docs):.0f})"
          f"; packed into {len(bins)} x {args.max_len} with {packer_name}")
    print(f"timed: training phase of epoch {args.epochs} of {args.epochs}")
    print(f"{'way':<17}{'batch':>6}{'steps':>7}{'real tok/s':>12}{'all tok/s':>11}"
          f"{'padding':>9}{'seconds':>9}{'loss':>8}")
    for name, r in results.items():
        print(f"{name:<17}{r['batch_size']:>6}{r['batches']:>7}{r['real_tokens_per_s']:>12.0f}"
              f"{r['processed_tokens_per_s']:>11.0f}{r['padding_share']:>9.1%}"
              f"{r['seconds']:>9.2f}{r['final_train_loss']:>8.3f}")
    pk = results["packed"]
    for base in ("unpacked/random", "unpacked/sorted"):
        r = results[base]
        print(f"packed vs {base}: {pk['real_tokens_per_s'] / r['real_tokens_per_s']:.2f}x real "
              f"tokens/s, padding {r['padding_share']:.1%} -> {pk['padding_share']:.1%}, "
              f"{r['processed_tokens'] / pk['processed_tokens']:.2f}x fewer processed tokens")
    if args.json:
        Path(args.json).write_text(json.dumps(dict(args=vars(args), results=results), indent=2))
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
