"""Score translations with a local COMET model (COMET-22 or, without --ref, CometKiwi).

unbabel-comet runs in its own environment (``make install-comet``); this command runs it there.
System score = mean of the segment scores.  Writes ``result.json``, ``result.txt``,
``segment_scores`` (``id score``) and ``segments.json`` into --out_dir.

Examples::

    python -m espnet_spire.bin.score_comet --model /models/wmt22-comet-da \\
        --src src.en --hyp hyp.de --ref ref.de --out_dir exp/comet_hyp_de
    python -m espnet_spire.bin.score_comet --model /models/wmt22-cometkiwi-da \\
        --src data/test/text.tc.en --hyp exp/m/decode/test/st_de/text --input_format kaldi \\
        --out_dir exp/m/decode/test/st_de/score_cometkiwi
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from espnet_spire.common.cli import setup_logging
from espnet_spire.scoring.cli import add_comet_args


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True,
                        help="COMET model dir (checkpoints/model.ckpt + hparams.yaml) or a .ckpt file")
    parser.add_argument("--src", required=True, help="source sentences")
    parser.add_argument("--hyp", required=True, help="translations to score")
    parser.add_argument("--ref", default=None, help="references (omit for reference-free models: CometKiwi)")
    parser.add_argument("--out_dir", required=True)
    parser.add_argument(
        "--input_format",
        default="plain",
        choices=("plain", "kaldi"),
        help="plain: aligned lines (as comet-score); kaldi: 'uttid text' files joined by id (order of --hyp)",
    )
    parser.add_argument("--encoder_dir", default=None, help="local copy of the encoder named in hparams.yaml")
    parser.add_argument("--metric_name", default=None, help="name in result.json (default comet or cometkiwi)")
    add_comet_args(parser)
    parser.add_argument("--log_level", default="INFO")
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    from espnet_spire.scoring.comet import CometError, score_dir
    from espnet_spire.scoring.textio import read_lines, read_text

    if args.input_format == "plain":
        hyps = read_lines(args.hyp)
        srcs = read_lines(args.src)
        refs = read_lines(args.ref) if args.ref else None
        ids = [f"seg{k:07d}" for k in range(1, len(hyps) + 1)]
        if len(srcs) != len(hyps) or (refs is not None and len(refs) != len(hyps)):
            print("score_comet: ERROR: --src/--hyp/--ref differ in line count", file=sys.stderr)
            sys.exit(1)
    else:
        h = read_text(args.hyp)
        s = read_text(args.src)
        r = read_text(args.ref) if args.ref else None
        ids = list(h)
        missing = [k for k in ids if k not in s or (r is not None and k not in r)]
        if missing:
            print(f"score_comet: ERROR: no source/reference for {len(missing)} ids, e.g. {missing[:3]}",
                  file=sys.stderr)
            sys.exit(1)
        hyps, srcs = [h[k] for k in ids], [s[k] for k in ids]
        refs = [r[k] for k in ids] if r is not None else None
    name = args.metric_name or ("comet" if refs is not None else "cometkiwi")
    try:
        res = score_dir(
            ids, srcs, hyps, refs, args.out_dir, args.model, metric=name,
            comet_python=args.comet_python, batch_size=args.comet_batch_size, gpus=args.comet_gpus,
            encoder_dir=args.encoder_dir, precision=args.comet_precision,
        )
    except CometError as e:
        print(f"score_comet: ERROR: {e}", file=sys.stderr)
        sys.exit(1)
    print(f"{name} = {res['system_score']:.4f} ({res['n_segments']} segments) -> {args.out_dir}")


if __name__ == "__main__":
    main()
