"""Score decode directories completely (spire.sh stage 13): one, or a list of them in one process.

ASR: WER and CER (sclite, or the sclite-compatible Python scorer) after text normalisation.
ST/MT: BLEU, spBLEU (flores200), chrF (sacrebleu) and, with local models, COMET-22 / CometKiwi.
Writes ``score_*/`` and ``scores.json`` under the decode directory.

Examples::

    python -m espnet_spire.bin.score_decode_dir --task asr \\
        --ref data/test/text --hyp_dir exp/spire_full/decode_greedy/test/asr
    python -m espnet_spire.bin.score_decode_dir --task st --tgt_lang de \\
        --ref data/test/text.tc.de --src data/test/text.tc.en \\
        --hyp_dir exp/spire_full/decode_greedy/test/st_de --comet_model /models/wmt22-comet-da
    # another system's output (plain lines in reference order, or Kaldi lines):
    python -m espnet_spire.bin.score_decode_dir --task st --tgt_lang de \\
        --ref data/test/text.tc.de --hyp seamless_de.txt --hyp_format plain \\
        --hyp_dir exp/external/seamless/test/st_de
    # many dirs in one process (COMET loaded once): lines "hyp_dir<TAB>ref[<TAB>hyp<TAB>hyp_format]"
    python -m espnet_spire.bin.score_decode_dir --task auto --list exp/score_list.tsv
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional, Tuple

from espnet_spire.common.cli import setup_logging
from espnet_spire.scoring.cli import add_scoring_args, scoring_options
from espnet_spire.scoring.textio import HYP_FORMATS


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--task",
        required=True,
        help="asr | st | mt (with --tgt_lang/--src_lang), a stage-12 task name (st_de, mt_en_de, "
        "multiturn_st_de) or auto (the name of --hyp_dir)",
    )
    parser.add_argument("--ref", default=None, help="reference, Kaldi 'uttid text' (data/<set>/text...)")
    parser.add_argument(
        "--hyp_dir", default=None, help="decode directory (holds 'text'); score_*/ are written here"
    )
    parser.add_argument(
        "--list",
        default=None,
        help="score many dirs in one process instead of --hyp_dir/--ref: a TSV file, one line per dir, "
        "'hyp_dir<TAB>ref' or 'hyp_dir<TAB>ref<TAB>hyp<TAB>hyp_format' (other systems' outputs); "
        "--task applies to every line (auto: each dir's name)",
    )
    parser.add_argument(
        "--hyp",
        default=None,
        help="score this file instead of <hyp_dir>/text: it is first copied into <hyp_dir>/text "
        "(for other systems' outputs)",
    )
    parser.add_argument(
        "--hyp_format", default="auto", choices=HYP_FORMATS, help="format of --hyp (plain: aligned with --ref)"
    )
    parser.add_argument("--src", default=None, help="source text (Kaldi) for COMET; default: next to --ref")
    parser.add_argument("--utt2spk", default=None, help="utt2spk for sclite (default: next to --ref)")
    parser.add_argument("--tgt_lang", default=None, help="target language code (st/mt)")
    parser.add_argument("--src_lang", default=None, help="source language code (default en)")
    add_scoring_args(parser)
    parser.add_argument("--log_level", default="INFO")
    return parser


def read_score_list(path: str) -> List[Tuple[str, str, Optional[str], str]]:
    """``(hyp_dir, ref, hyp, hyp_format)`` per line of a ``--list`` file."""
    from espnet_spire.common.jobs import read_job_list

    with open(path, encoding="utf-8") as f:
        four = any(line.count("\t") == 3 for line in f)
    if not four:
        return [(r["hyp_dir"], r["ref"], None, "auto") for r in read_job_list(path, ("hyp_dir", "ref"))]
    rows = read_job_list(path, ("hyp_dir", "ref", "hyp", "hyp_format"), optional=("hyp",))
    return [(r["hyp_dir"], r["ref"], r["hyp"], r["hyp_format"]) for r in rows]


def main(argv: Optional[List[str]] = None) -> None:
    parser = get_parser()
    args = parser.parse_args(argv)
    if args.list:
        if args.hyp_dir or args.ref or args.hyp or args.src or args.utt2spk:
            parser.error("--list replaces --hyp_dir, --ref, --hyp, --src and --utt2spk (each line names its "
                         "dirs; sources and utt2spk are found next to each reference)")
    elif not (args.hyp_dir and args.ref):
        parser.error("--hyp_dir and --ref are required (or --list)")
    setup_logging(args.log_level)
    import os

    from espnet_spire.common.jobs import JobError
    from espnet_spire.scoring.bleu import Flores200Missing
    from espnet_spire.scoring.comet import CometError
    from espnet_spire.scoring.decode_dir import ScoreJob, import_hypotheses, parse_task_name, score_decode_dirs

    try:
        entries = read_score_list(args.list) if args.list else [(args.hyp_dir, args.ref, args.hyp, args.hyp_format)]
        jobs = []
        for hyp_dir, ref, hyp, hyp_format in entries:
            task = parse_task_name(
                args.task, args.tgt_lang, args.src_lang, os.path.basename(os.path.normpath(hyp_dir))
            )
            if hyp:
                import_hypotheses(hyp, ref, hyp_dir, hyp_format)
            jobs.append(ScoreJob(hyp_dir, ref, task, src_file=args.src, utt2spk_file=args.utt2spk))
        summaries = score_decode_dirs(jobs, scoring_options(args))
    except (Flores200Missing, CometError, JobError, ValueError, FileNotFoundError) as e:
        print(f"score_decode_dir: ERROR: {e}", file=sys.stderr)
        sys.exit(1)
    for job, summary in zip(jobs, summaries):
        metrics = " ".join(
            f"{k}={v:.4f}" if k.startswith("comet") else f"{k}={v:.2f}"
            for k, v in summary["metrics"].items()
            if not k.endswith("_exact")
        )
        print(f"{job.hyp_dir}: {summary['task']}: {metrics}")


if __name__ == "__main__":
    main()
