"""Plan a run before any work: check every input, then print per-stage sizes, disk, GPU memory
and GPU-hours (``spire.sh --plan true`` calls it). Exit 1 with one list of problems when an
input is missing or invalid; nothing is written either way."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional

from espnet_spire.common.cli import str2bool
from espnet_spire.plan.build import build_plan
from espnet_spire.plan.estimates import REFERENCE_TOKENS_PER_SECOND, REFERENCE_TRANSLATE_TOKENS_PER_SECOND
from espnet_spire.plan.render import render_plan, render_problems

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    """Options mirror spire.sh's (its derived dirs are passed explicitly)."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--stages", required=True, help="selected stages, e.g. '1 2 3'")
    p.add_argument("--data_root", default="data")
    p.add_argument("--dumpdir", default="dump")
    p.add_argument("--expdir", default="exp")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data_check_cmd", default="", help="run when stage 1 is selected; stdout lines = problems")
    for role, what in (("kmeans_sets", "speech of k-means (stage 3)"), ("cpt_speech_sets", "ASR of CPT (stage 7)"),
                       ("cpt_mono_sets", "monolingual text of CPT"), ("cpt_mt_sets", "parallel text of CPT"),
                       ("it_asr_sets", "ASR of IT (stage 10)"), ("st_sets", "gold ST of IT"),
                       ("pseudo_st_sets", "transcripts stage 9 translates"), ("it_mt_sets", "MT text of IT"),
                       ("valid_set", "validation"), ("test_sets", "speech test sets"),
                       ("text_test_sets", "text-only test sets")):
        p.add_argument(f"--{role}", default="", help=f"data role: {what} (dirs under --data_root)")
    for derived, what in (("speech_sets", "stage 2"), ("unit_sets", "stage 5"), ("text_sets", "text dirs")):
        p.add_argument(f"--{derived}", default="", help=f"every dir of {what}, as spire.sh derives it "
                                                        "(default: derived from the roles the same way)")
    p.add_argument("--towerblocks", default="", help="TowerBlocks-style jsonl of the IT mixtures")
    p.add_argument("--mixture_dir", default="conf/it_mixtures", help="where <variant>.yaml IT mixtures are")
    p.add_argument("--it_mixture_vars", default="", help="'NAME=VALUE ...' counts of the IT mixtures (stage 10's)")
    p.add_argument("--src_lang", default="en")
    p.add_argument("--tgt_langs", default="de fr es it pt nl ru zh ko")
    p.add_argument("--feature_type", default="hf_ssl")
    p.add_argument("--ssl_model", default="")
    p.add_argument("--ssl_layer", type=int, default=22)
    p.add_argument("--nclusters", type=int, default=5000)
    p.add_argument("--kmeans_model", default="", help="given k-means model (skips stages 3-4)")
    p.add_argument("--kmeans_dir", default="", help="where stage 4 writes the k-means model")
    p.add_argument("--trust_pickle", type=str2bool, default=False,
                   help="read a k-means model that exists only as a pickle (unpickling runs code from the file)")
    p.add_argument("--kmeans_portion", type=float, default=1.0)
    p.add_argument("--kmeans_max_frames", type=int, default=2000000)
    p.add_argument("--dedup", type=str2bool, default=True)
    p.add_argument("--tokenizer_dir", default="exp/tokenizer")
    p.add_argument("--base_model", default="")
    p.add_argument("--cpt_config", default="")
    p.add_argument("--it_config", default="")
    p.add_argument("--cpt_ratio", default="5:1")
    p.add_argument("--cpt_data_opts", default="",
                   help="stage 7's extra options; its --max_tokens (e.g. 6B) is the CPT token budget")
    p.add_argument("--cpt_token_budget", type=float, default=0.0,
                   help="cap on CPT tokens (speech + text; the paper: 6e9); 0: --cpt_data_opts --max_tokens, else none")
    p.add_argument("--variants", default="spirebase spirefull")
    p.add_argument("--pseudo_st_translator", default="", help="local LM dir of stage 9, or 'base'")
    p.add_argument("--pseudo_st_max_utts", type=int, default=0, help="transcripts stage 9 translates (0: all)")
    p.add_argument("--pseudo_st_n_direct", type=int, default=60000)
    p.add_argument("--pseudo_st_n_multiturn", type=int, default=60000)
    p.add_argument("--translate_tokens_per_second", type=float, default=REFERENCE_TRANSLATE_TOKENS_PER_SECOND,
                   help="stage 9: prompt + generated tokens/s per GPU of a 7B translator (assumed, not "
                        "measured); scaled by 7e9/params of the translator")
    p.add_argument("--ngpu", type=int, default=0)
    p.add_argument("--tokens_per_second", type=float, default=REFERENCE_TOKENS_PER_SECOND,
                   help="training throughput per GPU for a 7B model (default: issue #16's outside "
                        "measurement, 8.9k tokens/s for a 7B Llama on one H200, bf16); scaled by 7e9/params")
    return p


def main(argv: Optional[List[str]] = None) -> None:
    """Print the plan (exit 0) or the list of problems (exit 1)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    plan = build_plan(get_parser().parse_args(argv))
    if plan.problems:
        print(render_problems(plan), file=sys.stderr)
        sys.exit(1)
    print(render_plan(plan))


if __name__ == "__main__":
    main()
