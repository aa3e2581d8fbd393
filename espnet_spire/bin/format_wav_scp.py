"""Stage 2: write 16 kHz mono 16-bit audio for one split of a data dir, or merge the splits.

Job mode (one of ``nj`` parallel jobs, e.g. under ``run.pl JOB=1:nj``)::

    python -m espnet_spire.bin.format_wav_scp --data_dir data/train \\
        --key_file exp/format/train/keys.JOB.scp --out_dir dump/raw/train --job JOB

Merge mode (once, after all jobs)::

    python -m espnet_spire.bin.format_wav_scp --merge --data_dir data/train \\
        --out_dir dump/raw/train --nj 4 [--max_failed_ratio 0.05]

Many data dirs in one process (the interpreter and torch start once): ``--job_list`` (lines
``data_dir<TAB>key_file<TAB>out_dir``) in job mode, ``--merge --merge_list`` (lines
``data_dir<TAB>out_dir<TAB>nj``) in merge mode. A set that fails does not stop the others; the
run exits 1 at the end, naming every failed set.

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
    FormatOptions,
    job_is_done,
    merge_jobs,
    run_format_job,
)
from espnet_spire.audio.resample import DEFAULT_RESAMPLER, RESAMPLERS
from espnet_spire.common.cli import run_cli, setup_logging
from espnet_spire.common.fileio import DiskFullError
from espnet_spire.common.jobs import JobError, each_set, job_count, read_job_list
from espnet_spire.common.kaldi_dir import KaldiFormatError, read_key_list


def get_parser() -> argparse.ArgumentParser:
    """Command-line options of both modes."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data_dir", default=None, help="source data dir (wav.scp [+segments])")
    parser.add_argument("--out_dir", default=None, help="output dir, e.g. dump/raw/train")
    parser.add_argument("--merge", action="store_true", help="merge finished jobs")
    job = parser.add_argument_group("job mode")
    job.add_argument("--key_file", help="utterance ids of this job (first column is used)")
    job.add_argument("--job", help="job number (audio goes to <out_dir>/data/format.<job>)")
    job.add_argument("--job_list", help="instead of --data_dir/--key_file/--out_dir: lines "
                     "'data_dir<TAB>key_file<TAB>out_dir', one per set")
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
    merge.add_argument("--merge_list", help="instead of --data_dir/--out_dir/--nj: lines "
                       "'data_dir<TAB>out_dir<TAB>nj', one per set")
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
    rc = run_cli(lambda: _run(parser, args), logging.getLogger(__name__), (JobError, KaldiFormatError, DiskFullError))
    if rc:
        sys.exit(rc)


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """The job or the merge, of one set or of every set of a list."""
    if args.merge:
        if args.merge_list:
            sets = [(r["data_dir"], r["out_dir"], job_count(r["nj"], args.merge_list))
                    for r in read_job_list(args.merge_list, ("data_dir", "out_dir", "nj"))]
        elif args.data_dir and args.out_dir and args.nj is not None and args.nj >= 1:
            sets = [(args.data_dir, args.out_dir, args.nj)]
        else:
            parser.error("--merge needs --data_dir, --out_dir and --nj N (N >= 1), or --merge_list")
        each_set(sets, lambda d, o, nj: _merge(d, o, nj, args.max_failed_ratio))
    else:
        if args.job is None:
            parser.error("job mode needs --job")
        if args.job_list:
            sets = [(r["data_dir"], r["key_file"], r["out_dir"])
                    for r in read_job_list(args.job_list, ("data_dir", "key_file", "out_dir"))]
        elif args.data_dir and args.key_file and args.out_dir:
            sets = [(args.data_dir, args.key_file, args.out_dir)]
        else:
            parser.error("job mode needs --data_dir, --key_file and --out_dir, or --job_list")
        opts = FormatOptions(args.fs, args.audio_format, args.min_samples, args.resampler)
        each_set(sets, lambda d, k, o: _job(d, k, o, args.job, opts))


def _merge(data_dir: str, out_dir: str, nj: int, max_failed_ratio: float) -> None:
    result = merge_jobs(data_dir, out_dir, nj, max_failed_ratio)
    logging.info("merged %d jobs into %s: %d utterances, %d failed; copied %s",
                 nj, out_dir, result.num_ok, result.num_failed, " ".join(result.copied))


def _job(data_dir: str, key_file: str, out_dir: str, job: str, opts: FormatOptions) -> None:
    keys = read_key_list(key_file)
    if not job_is_done(data_dir, keys, out_dir, job, opts):
        # One thread per job: parallelism comes from nj (torch is imported only
        # here so that skipping a finished job stays instant).
        import torch

        torch.set_num_threads(1)
    run_format_job(data_dir, keys, out_dir, job, opts)


if __name__ == "__main__":
    main()
