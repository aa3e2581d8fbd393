"""Stage 2: write 16 kHz mono 16-bit audio for one split of a data dir, or merge the splits.

Job mode (one of ``nj`` parallel jobs, e.g. under ``run.pl JOB=1:nj``)::

    python -m espnet_spire.bin.format_wav_scp --data_dir data/train \\
        --key_file exp/format/train/keys.JOB.scp --out_dir dump/raw/train --job JOB

Merge mode (once, after all jobs)::

    python -m espnet_spire.bin.format_wav_scp --merge --data_dir data/train \\
        --out_dir dump/raw/train --nj 4 [--max_failed_ratio 0.05]

Details (layout, failure handling, restart) in :mod:`espnet_spire.audio.format_job`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional

from espnet_spire.audio.format_job import (
    AUDIO_FORMATS,
    DEFAULT_MAX_FAILED_RATIO,
    FormatError,
    FormatOptions,
    job_is_done,
    merge_jobs,
    run_format_job,
)
from espnet_spire.audio.resample import DEFAULT_RESAMPLER, RESAMPLERS
from espnet_spire.common.cli import run_cli, setup_logging
from espnet_spire.common.fileio import DiskFullError
from espnet_spire.common.kaldi_dir import KaldiFormatError, read_key_list


def get_parser() -> argparse.ArgumentParser:
    """Command-line options of both modes."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data_dir", required=True, help="source data dir (wav.scp [+segments])")
    parser.add_argument("--out_dir", required=True, help="output dir, e.g. dump/raw/train")
    parser.add_argument("--merge", action="store_true", help="merge finished jobs")
    job = parser.add_argument_group("job mode")
    job.add_argument("--key_file", help="utterance ids of this job (first column is used)")
    job.add_argument("--job", help="job number (audio goes to <out_dir>/data/format.<job>)")
    job.add_argument("--fs", type=int, default=16000, help="output sample rate")
    job.add_argument(
        "--audio_format", choices=sorted(AUDIO_FORMATS), default="wav", help="16-bit PCM container"
    )
    job.add_argument(
        "--min_samples",
        type=int,
        default=400,
        help="drop utterances shorter than this after resampling (400 = 25 ms at 16 kHz)",
    )
    job.add_argument(
        "--resampler",
        choices=RESAMPLERS,
        default=DEFAULT_RESAMPLER,
        help="for input not at --fs: soxr_hq (what SpireLM's labeller uses, via librosa) or sinc "
        "(torchaudio, this recipe's earlier resampler); 16 kHz input is never filtered",
    )
    merge = parser.add_argument_group("merge mode")
    merge.add_argument("--nj", type=int, help="number of jobs to merge")
    merge.add_argument(
        "--max_failed_ratio",
        type=float,
        default=DEFAULT_MAX_FAILED_RATIO,
        help="fail when more than this share of utterances was dropped (default %(default)s)",
    )
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    """Run one job or the merge; exit 1 with a message on recipe-level errors."""
    parser = get_parser()
    args = parser.parse_args(argv)
    setup_logging()
    # bad data-dir lines (KaldiFormatError: file and line) and a full disk are the user's to fix
    rc = run_cli(lambda: _run(parser, args), logging.getLogger(__name__),
                 (FormatError, KaldiFormatError, DiskFullError))
    if rc:
        sys.exit(rc)


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """The job or the merge."""
    if args.merge:
        if args.nj is None or args.nj < 1:
            parser.error("--merge needs --nj N (N >= 1)")
        result = merge_jobs(args.data_dir, args.out_dir, args.nj, args.max_failed_ratio)
        logging.info(
            "merged %d jobs into %s: %d utterances, %d failed; copied %s",
            args.nj,
            args.out_dir,
            result.num_ok,
            result.num_failed,
            " ".join(result.copied),
        )
    else:
        if not args.key_file or args.job is None:
            parser.error("job mode needs --key_file and --job")
        opts = FormatOptions(args.fs, args.audio_format, args.min_samples, args.resampler)
        keys = read_key_list(args.key_file)
        if not job_is_done(args.data_dir, keys, args.out_dir, args.job, opts):
            # One thread per job: parallelism comes from nj (torch is imported only
            # here so that skipping a finished job stays instant).
            import torch

            torch.set_num_threads(1)
        run_format_job(args.data_dir, keys, args.out_dir, args.job, opts)


if __name__ == "__main__":
    main()
