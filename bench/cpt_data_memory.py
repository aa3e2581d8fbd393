#!/usr/bin/env python3
"""Peak memory (RSS) of building CPT data (stage 7) at two corpus sizes: does it stay flat?

A synthetic corpus is written per size: ``N`` utterances of units (K=500, lognormal lengths, about
150 units) with transcripts, an MT dir of ``N/4`` aligned en/de lines and ``N/4`` monolingual
lines. Each build runs in its own subprocess, which reports its peak RSS
(``resource.getrusage``) after loading the tokenizer (the baseline) and after the build.
(The in-memory builder that streaming replaced was measured the same way when it was replaced;
its figures are kept in bench/RESULTS.md.)

    python bench/cpt_data_memory.py                          # 20k and 200k utterances, ~5 min on 2 cores
    python bench/cpt_data_memory.py --sizes 2000 20000

Flat memory means the ratio of the peaks (large / small) stays near 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import numpy as np

K = 500
ROOT = Path(__file__).resolve().parent.parent
SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]


def words(rng: np.random.Generator, n: int) -> str:
    """``n`` pseudo-words of two or three syllables."""
    idx = rng.integers(0, len(SYLLABLES), size=(n, 3))
    three = rng.random(n) < 0.4
    return " ".join("".join(SYLLABLES[j] for j in row[: 3 if t else 2]) for row, t in zip(idx, three))


def make_tokenizer(work: Path) -> str:
    """A 1,000-piece spm tokenizer on pseudo-words, extended with K units (stage 6a)."""
    from espnet_spire.demo.toy_base import train_spm
    from espnet_spire.lm.tokenizer_extension import extend_tokenizer

    rng = np.random.default_rng(0)
    lines = [words(rng, 12) for _ in range(2000)] + ["Speech: English: German:"] * 5
    train_spm(lines, work / "base", 1000)
    extend_tokenizer(str(work / "base"), str(work / "tokenizer"), K)
    return str(work / "tokenizer" / "base")


def make_corpus(out: Path, n: int, seed: int = 0) -> Dict[str, str]:
    """Units + text of ``n`` utterances, ``n/4`` MT pairs and ``n/4`` monolingual lines (sorted ids)."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    (out / "mt").mkdir(exist_ok=True)
    width = len(str(n))
    with open(out / "units", "w", encoding="utf-8") as fu, open(out / "text", "w", encoding="utf-8") as ft:
        for i in range(n):
            m = int(np.clip(rng.lognormal(5.0, 0.4), 10, 600))
            fu.write(f"u{i:0{width}d} " + "".join(chr(0xF0000 + int(x)) for x in rng.integers(0, K, m)) + "\n")
            ft.write(f"u{i:0{width}d} {words(rng, int(rng.integers(5, 25)))}\n")
    for name in ("mt/text.tc.en", "mt/text.tc.de", "mono.txt"):
        with open(out / name, "w", encoding="utf-8") as f:
            for i in range(n // 4):
                f.write(f"t{i:0{width}d} {words(rng, int(rng.integers(5, 30)))}\n")
    return {"units": str(out / "units"), "text": str(out / "text"), "mt": str(out / "mt"),
            "mono": str(out / "mono.txt")}


def child(args: argparse.Namespace) -> None:
    """One build in this process; prints peak RSS (MiB) after setup and after the build, as JSON."""
    from transformers import AutoTokenizer

    import espnet_spire.lm.cpt_data as builder
    from espnet_spire.lm.cpt_data import CptConfig

    AutoTokenizer.from_pretrained(args.tokenizer, local_files_only=True)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    corpus = json.loads(args.corpus)
    t0 = time.time()
    stats = builder.build_cpt_data(args.tokenizer, args.out, CptConfig(max_len=2048, speech_text_ratio=5.0),
                                   [(corpus["units"], corpus["text"])], [corpus["mt"]], [corpus["mono"]])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"baseline_mib": base, "peak_mib": peak, "seconds": time.time() - t0,
                      "documents": stats["documents_available"], "real_tokens": stats["real_tokens"]}))


def measure(builder: str, tokenizer: str, corpus: Dict[str, str], out: Path) -> Dict[str, float]:
    cmd = [sys.executable, __file__, "--child", builder, "--tokenizer", tokenizer, "--out", str(out),
           "--corpus", json.dumps(corpus)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    res = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv: List[str] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", nargs=2, type=int, default=[20000, 200000], help="utterances, small and large")
    p.add_argument("--child", choices=["streaming"], help=argparse.SUPPRESS)
    p.add_argument("--tokenizer", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--corpus", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args)
        return 0
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    builders = ["streaming"]
    with tempfile.TemporaryDirectory(prefix="cpt_mem.") as tmp:
        work = Path(tmp)
        tokenizer = make_tokenizer(work)
        rows = {b: [] for b in builders}
        for n in args.sizes:
            corpus = make_corpus(work / f"corpus{n}", n)
            mib = sum(os.path.getsize(v) for v in (corpus["units"], corpus["text"], corpus["mono"])) / 2**20
            for b in builders:
                r = measure(b, tokenizer, corpus, work / f"out_{b}_{n}")
                rows[b].append(r)
                logging.info("%-9s %7d utterances (%.0f MiB of text): peak RSS %.0f MiB (%.0f after setup), "
                             "%d documents, %.1f M tokens kept, %.0f s", b, n, mib, r["peak_mib"],
                             r["baseline_mib"], r["documents"], r["real_tokens"] / 1e6, r["seconds"])
        for b in builders:
            small, large = rows[b]
            logging.info("%-9s peak RSS ratio %d/%d utterances: %.2fx (growth above setup: %.0f -> %.0f MiB)",
                         b, args.sizes[1], args.sizes[0], large["peak_mib"] / small["peak_mib"],
                         small["peak_mib"] - small["baseline_mib"], large["peak_mib"] - large["baseline_mib"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
