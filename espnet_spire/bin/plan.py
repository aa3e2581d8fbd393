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
from espnet_spire.plan.estimates import REFERENCE_TOKENS_PER_SECOND
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
    p.add_argument("--train_set", default="")
    p.add_argument("--valid_set", default="")
    p.add_argument("--test_sets", default="")
    p.add_argument("--mt_train_set", default="")
    p.add_argument("--mono_set", default="")
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
    p.add_argument("--cpt_token_budget", type=float, default=0.0,
                   help="cap on CPT tokens (speech + text; the paper: 6e9); 0: no cap")
    p.add_argument("--variants", default="spirebase spirefull")
    p.add_argument("--pseudo_st_n_direct", type=int, default=60000)
    p.add_argument("--pseudo_st_n_multiturn", type=int, default=60000)
    p.add_argument("--it_asr_examples", type=int, default=-1,
                   help="IT ASR examples per variant (default -1: the train set's utterances)")
    p.add_argument("--it_seconds_per_example", type=float, default=0.0,
                   help="mean audio seconds of an IT example (default 0: the train set's mean)")
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
