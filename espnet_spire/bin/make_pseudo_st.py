"""Pseudo-labelled speech translation data (spire.sh stage 9).

Translates ASR training transcripts into the target languages with a local causal LM (zero-shot
MT prompt, greedy), scores every pair with CometKiwi (COMET environment), keeps pairs scoring at
least --threshold, and samples disjoint sets for direct and multi-turn ST prompts per language.
Writes <out_dir>/{direct,multiturn}/text.tc.<lang> (Kaldi, sorted), translations/, qe/ and
report.{json,md}.

Example::

    python -m espnet_spire.bin.make_pseudo_st --text data/train/text --out_dir dump/pseudo_st/train \\
        --translator_model /models/TowerInstruct-13B-v0.1 --qe_model /models/wmt22-cometkiwi-da \\
        --tgt_langs "de fr es it pt nl ru zh ko" --n_direct 60000 --n_multiturn 60000
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from espnet_spire.common.cli import optional_bool, setup_logging, split_words, str2bool
from espnet_spire.scoring.cli import add_comet_args


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--text", required=True, help="ASR transcripts, Kaldi 'uttid text' (data/<train>/text)")
    p.add_argument("--out_dir", required=True, help="output dir (e.g. dump/pseudo_st/<train_set>)")
    p.add_argument("--translator_model", required=True, help="local HF causal LM dir (e.g. TowerInstruct)")
    p.add_argument("--translator_tokenizer", default=None, help="tokenizer dir (default: the model dir)")
    p.add_argument("--tgt_langs", type=split_words, default=split_words("de fr es it pt nl ru zh ko"),
                   help="target languages, space or comma separated")
    p.add_argument("--src_lang", default="en")
    p.add_argument("--qe_model", default=None, help="local CometKiwi dir (Unbabel/wmt22-cometkiwi-da)")
    p.add_argument("--qe_encoder_dir", default=None,
                   help="local copy of the encoder named in the CometKiwi hparams (microsoft/infoxlm-large)")
    p.add_argument("--qe_filter", type=str2bool, default=True,
                   help="filter by CometKiwi (false: keep everything, explicitly)")
    p.add_argument("--threshold", type=float, default=0.85, help="keep pairs with CometKiwi >= threshold")
    p.add_argument("--n_direct", type=int, default=60000, help="pairs per language for direct ST")
    p.add_argument("--n_multiturn", type=int, default=60000, help="other pairs per language for multi-turn ST")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max_utts", type=int, default=None, help="translate a random subset of this many transcripts")
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--max_new_tokens", type=int, default=256)
    p.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"))
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument("--use_chat_template", type=optional_bool, default=None,
                   help="auto (when the tokenizer has one), true or false")
    p.add_argument("--prompt_style", default="head", choices=("head", "paper", "cpt"),
                   help="cpt: a base (non-instruct) translator prompted in its CPT format")
    p.add_argument("--overwrite", type=str2bool, default=False,
                   help="re-translate and re-score even when cached outputs match")
    add_comet_args(p)
    p.add_argument("--log_level", default="INFO")
    return p


def main(argv: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    from espnet_spire.pseudo.st import PseudoSTConfig, PseudoSTError, run_pseudo_st
    from espnet_spire.scoring.comet import CometError

    cfg = PseudoSTConfig(
        tgt_langs=args.tgt_langs, src_lang=args.src_lang, threshold=args.threshold,
        qe_filter=args.qe_filter, qe_model=args.qe_model, qe_encoder_dir=args.qe_encoder_dir,
        n_direct=args.n_direct, n_multiturn=args.n_multiturn, seed=args.seed, max_utts=args.max_utts,
        translator_model=args.translator_model, translator_tokenizer=args.translator_tokenizer,
        batch_size=args.batch_size, max_new_tokens=args.max_new_tokens, dtype=args.dtype,
        device=args.device, use_chat_template=args.use_chat_template,
        prompt_style=args.prompt_style, comet_python=args.comet_python,
        qe_batch_size=args.comet_batch_size, qe_gpus=args.comet_gpus, qe_precision=args.comet_precision,
        overwrite=args.overwrite,
    )
    try:
        report = run_pseudo_st(args.text, args.out_dir, cfg)
    except (PseudoSTError, CometError) as e:
        print(f"make_pseudo_st: ERROR: {e}", file=sys.stderr)
        sys.exit(1)
    for pair, d in report["pairs"].items():
        print(f"{pair}: kept {d['kept']}/{d['total']} -> direct {d['direct']}, multi-turn {d['multiturn']}")
    if not report["qe_filter"]:
        print("make_pseudo_st: QE filter OFF (--qe_filter false): all non-empty translations kept")
    print(f"make_pseudo_st: report {args.out_dir}/report.md")


if __name__ == "__main__":
    main()
