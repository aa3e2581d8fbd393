"""Score one decode directory completely (spire.sh stage 13).

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
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

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
    parser.add_argument("--ref", required=True, help="reference, Kaldi 'uttid text' (data/<set>/text...)")
    parser.add_argument(
        "--hyp_dir", required=True, help="decode directory (holds 'text'); score_*/ are written here"
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


def main(argv: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    import os

    from espnet_spire.scoring.bleu import Flores200Missing
    from espnet_spire.scoring.comet import CometError
    from espnet_spire.scoring.decode_dir import import_hypotheses, parse_task_name, score_decode_dir

    try:
        task = parse_task_name(
            args.task, args.tgt_lang, args.src_lang, os.path.basename(os.path.normpath(args.hyp_dir))
        )
        if args.hyp:
            import_hypotheses(args.hyp, args.ref, args.hyp_dir, args.hyp_format)
        summary = score_decode_dir(
            args.hyp_dir, args.ref, task, scoring_options(args), src_file=args.src, utt2spk_file=args.utt2spk
        )
    except (Flores200Missing, CometError, ValueError, FileNotFoundError) as e:
        print(f"score_decode_dir: ERROR: {e}", file=sys.stderr)
        sys.exit(1)
    metrics = " ".join(
        f"{k}={v:.4f}" if k.startswith("comet") else f"{k}={v:.2f}"
        for k, v in summary["metrics"].items()
        if not k.endswith("_exact")
    )
    print(f"{args.hyp_dir}: {summary['task']}: {metrics}")


if __name__ == "__main__":
    main()
