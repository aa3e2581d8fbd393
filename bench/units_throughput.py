#!/usr/bin/env python3
"""Unit-labelling throughput: our batched labeller versus a plain one-utterance-at-a-time loop.

Both sides run in this one process on the same audio and the same model, and the script prints
audio seconds labelled per wall second for each and their ratio, then centroid-assignment frames
per second for K=5000, D=1024 with every backend we offer.

The SSL model is a randomly initialised HuBERT with the hubert-large configuration (1024 wide,
16 heads, FFN 4096, layer-norm conv extractor, pre-LN encoder), cut to --layers transformer
layers (default 4, to keep the run short on a laptop; --layers 22 is SPIRE's full depth).
Speed does not depend on the weights' values, so random weights time the real architecture.

Usage: python bench/units_throughput.py [--utts 24] [--layers 4] [--batch_size 8] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Callable, List

import numpy as np
import soundfile as sf
import torch


def make_audio(n: int, workdir: Path, seed: int) -> List[np.ndarray]:
    """n demo-world sentences synthesised with espeak-ng (varied lengths, 16 kHz)."""
    from espnet_spire.demo.lexicon import load_lexicon
    from espnet_spire.demo.sampling import sample_sentences
    from espnet_spire.demo.synth import VOICES, SynthJob, synthesize_all

    rng = random.Random(seed)
    sents = sample_sentences(load_lexicon(), n, rng, set())
    jobs = [SynthJob(s["en"], VOICES[i % len(VOICES)], rng.randint(140, 190), 50,
                     workdir / f"u{i}.wav") for i, s in enumerate(sents)]
    synthesize_all(jobs, nj=2)
    return [sf.read(j.path, dtype="float32")[0] for j in jobs]


def build_hubert(model_dir: Path, layers: int) -> None:
    from transformers import HubertConfig, HubertModel

    cfg = HubertConfig(hidden_size=1024, num_hidden_layers=layers, num_attention_heads=16,
                       intermediate_size=4096, feat_extract_norm="layer", conv_bias=True,
                       do_stable_layer_norm=True, feat_proj_layer_norm=True)
    torch.manual_seed(0)
    HubertModel(cfg).save_pretrained(model_dir)
    (model_dir / "preprocessor_config.json").write_text(json.dumps({
        "feature_extractor_type": "Wav2Vec2FeatureExtractor", "feature_size": 1,
        "padding_side": "right", "padding_value": 0, "sampling_rate": 16000,
        "do_normalize": True, "return_attention_mask": True}))


def timed(fn: Callable[[], object], repeat: int = 1) -> float:
    fn()  # warm-up (thread pools, allocator)
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def plain_loop_labels(model, wavs: List[np.ndarray], centers_t: torch.Tensor,
                      cnorm: torch.Tensor) -> List[np.ndarray]:
    """The official labeller's way: one utterance per forward pass, no padding."""
    out = []
    with torch.inference_mode():
        for w in wavs:
            x = torch.from_numpy((w - w.mean()) / np.sqrt(w.var() + 1e-7)).float()[None]
            h = model(x).last_hidden_state[0]
            d = (h * h).sum(1, keepdim=True) - 2 * h @ centers_t + cnorm
            out.append(d.argmin(1).numpy())
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--utts", type=int, default=24)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--batch_size", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--assign_frames", type=int, default=20000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    from espnet_spire.units.assign import Assigner
    from espnet_spire.units.hf_ssl import HFSSLExtractor
    from espnet_spire.units.mfcc import MfccExtractor

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        wavs = make_audio(args.utts, tmp, args.seed)
        seconds = sum(len(w) for w in wavs) / 16000
        rng = np.random.default_rng(args.seed)

        # --- HuBERT (hubert-large config) -------------------------------------------------
        model_dir = tmp / "hubert"
        build_hubert(model_dir, args.layers)
        ours = HFSSLExtractor(str(model_dir), layer=args.layers, batch_size=args.batch_size)
        centers = rng.normal(size=(500, 1024)).astype(np.float32)
        assigner = Assigner(centers)
        ct = torch.from_numpy(centers).t().contiguous()
        cn = (torch.from_numpy(centers) ** 2).sum(1)

        def ours_hubert():
            return [assigner(f) for f in ours(wavs)]

        t_ours = timed(ours_hubert)
        t_plain = timed(lambda: plain_loop_labels(ours.model, wavs, ct, cn))
        same = all(np.array_equal(a, b) for a, b in
                   zip(ours_hubert(), plain_loop_labels(ours.model, wavs, ct, cn)))
        rows.append((f"HuBERT-large cfg, {args.layers} layers, batch {args.batch_size}",
                     seconds / t_ours, seconds / t_plain, same))

        # --- MFCC ------------------------------------------------------------------------
        mfcc = MfccExtractor()
        c39 = rng.normal(size=(200, 39)).astype(np.float32)
        a39 = Assigner(c39)
        t_ours = timed(lambda: [a39(f) for f in mfcc(wavs)], repeat=3)
        t_plain = timed(lambda: [a39(mfcc([w])[0]) for w in wavs], repeat=3)
        rows.append(("MFCC 39-dim, K=200", seconds / t_ours, seconds / t_plain, True))

    print(f"\nLabelling throughput ({args.utts} utterances, {seconds:.1f} s of audio, "
          f"{args.threads} threads)")
    print("| features | ours (audio s / s) | one-by-one loop (audio s / s) | ratio | same labels |")
    print("|---|---|---|---|---|")
    for name, a, b, same in rows:
        print(f"| {name} | {a:.1f} | {b:.1f} | {a / b:.2f}x | {same} |")

    # --- centroid assignment, K=5000, D=1024 --------------------------------------------
    centers = rng.normal(size=(5000, 1024)).astype(np.float32)
    feats = rng.normal(size=(args.assign_frames, 1024)).astype(np.float32)
    from espnet_spire.units.kmeans import sklearn_model_from_centers

    km = sklearn_model_from_centers(centers)
    backends = {
        "torch fp32 (default)": Assigner(centers, "torch", "fp32"),
        "torch bf16": Assigner(centers, "torch", "bf16"),
        "faiss IndexFlatL2": Assigner(centers, "faiss"),
        "sklearn predict": km.predict,
    }
    ref = backends["torch fp32 (default)"](feats)
    print(f"\nCentroid assignment, K=5000, D=1024, {args.assign_frames} frames")
    print("| backend | frames / s | agreement with torch fp32 |")
    print("|---|---|---|")
    for name, fn in backends.items():
        t = timed(lambda: fn(feats))
        agree = float(np.mean(np.asarray(fn(feats)) == ref))
        print(f"| {name} | {args.assign_frames / t:,.0f} | {agree:.4f} |")


if __name__ == "__main__":
    main()
