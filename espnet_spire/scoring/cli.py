"""Option helpers shared by the scoring command-line tools."""

from __future__ import annotations

import argparse

from espnet_spire.common.cli import str2bool
from espnet_spire.scoring.normalize import NORMALIZER_CHOICES


def add_comet_args(parser: argparse.ArgumentParser) -> None:
    """``--comet_python --comet_batch_size --comet_gpus`` (the COMET environment and batching)."""
    g = parser.add_argument_group("COMET environment")
    g.add_argument(
        "--comet_python",
        default=None,
        help="python of the COMET environment (default: $SPIRE_COMET_PYTHON or tools/comet_venv; "
        "install it with `make install-comet`)",
    )
    g.add_argument("--comet_batch_size", type=int, default=16, help="COMET batch size")
    g.add_argument("--comet_gpus", type=int, default=0, help="GPUs for COMET (0: CPU)")
    g.add_argument(
        "--comet_precision",
        default="half",
        choices=("half", "float32"),
        help="half: float16 exactly as `comet-score` 2.2.7 (SpireLM's numbers); float32: full precision",
    )


def add_scoring_args(parser: argparse.ArgumentParser) -> None:
    """All metric options of a decode directory (WER/CER, BLEU/spBLEU/chrF, COMET)."""
    g = parser.add_argument_group("WER/CER")
    g.add_argument(
        "--normalizer",
        default="whisper",
        choices=NORMALIZER_CHOICES,
        help="normaliser of hyps and refs before WER/CER: whisper (EnglishTextNormalizer, SPIRE's), "
        "basic (BasicTextNormalizer) or none",
    )
    g.add_argument("--cer", type=str2bool, default=True, help="also compute CER for ASR")
    g.add_argument(
        "--wer_backend",
        default="auto",
        choices=("auto", "sclite", "python"),
        help="auto: sclite when found (PATH, $SCLITE, /usr/lib/sctk/bin), else the Python scorer",
    )
    g.add_argument("--sclite", default=None, help="path of the sclite binary")
    g = parser.add_argument_group("BLEU / spBLEU / chrF")
    g.add_argument(
        "--spbleu",
        type=str2bool,
        default=True,
        help="compute spBLEU (needs the flores200 SPM model; false skips it explicitly)",
    )
    g.add_argument(
        "--flores200_spm",
        default=None,
        help="local flores200 SentencePiece model (default: $SACREBLEU/models/flores200sacrebleuspm)",
    )
    g.add_argument(
        "--bleu_tokenize",
        default="auto",
        help="sacrebleu tokenizer of BLEU; auto: sacrebleu's default for the target language, as sacrebleu -l en-XX "
        "(zh for Chinese, ko-mecab for Korean, ja-mecab for Japanese, 13a otherwise)",
    )
    g = parser.add_argument_group("COMET models (local dirs; nothing is downloaded)")
    g.add_argument("--comet_model", default=None, help="COMET-22 model dir (Unbabel/wmt22-comet-da)")
    g.add_argument(
        "--cometkiwi_model", default=None, help="CometKiwi model dir (Unbabel/wmt22-cometkiwi-da), optional"
    )
    g.add_argument(
        "--comet_encoder_dir",
        default=None,
        help="local copy of the encoder named in the COMET model's hparams (xlm-roberta-large) "
        "when it is not in the Hugging Face cache",
    )
    g.add_argument(
        "--cometkiwi_encoder_dir",
        default=None,
        help="the same for CometKiwi (microsoft/infoxlm-large)",
    )
    add_comet_args(parser)


def scoring_options(args: argparse.Namespace):
    """A :class:`~espnet_spire.scoring.decode_dir.ScoreOptions` from parsed arguments."""
    from espnet_spire.scoring.decode_dir import ScoreOptions

    return ScoreOptions(
        normalizer=args.normalizer,
        cer=args.cer,
        wer_backend=args.wer_backend,
        sclite=args.sclite,
        spbleu=args.spbleu,
        flores200_spm=args.flores200_spm,
        bleu_tokenize=args.bleu_tokenize,
        comet_model=args.comet_model,
        cometkiwi_model=args.cometkiwi_model,
        comet_python=args.comet_python,
        comet_batch_size=args.comet_batch_size,
        comet_gpus=args.comet_gpus,
        comet_precision=args.comet_precision,
        comet_encoder_dir=args.comet_encoder_dir,
        cometkiwi_encoder_dir=args.cometkiwi_encoder_dir,
    )
