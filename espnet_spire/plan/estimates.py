"""Size and cost estimates of a run, from hours of audio and model shapes.

Every function is a formula of a few inputs, so that the plan's numbers can be checked by hand;
the constants below are the stated assumptions the plan prints next to its tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

# Frames per second of each feature type (HuBERT/wav2vec2/WavLM: 20 ms hop; MFCC: 10 ms).
FRAME_RATE = {"hf_ssl": 50.0, "mfcc": 100.0, "mfcc50": 50.0}
# Units kept per frame after merging repeats (--dedup true), used only where no units exist yet.
# An assumption, not a measurement of our data: the plan uses the measured rate of
# dump/units/<set>/units whenever that file exists.
DEDUP_FACTOR = {"hf_ssl": 0.6, "mfcc": 0.65, "mfcc50": 0.75}
# Characters per LLM token of English transcripts (Llama-family BPE; assumption).
CHARS_PER_TOKEN = 4.0
# Prompt/special tokens added around each speech example (CPT: BOS, speech/text tags, EOS).
SPEECH_EXAMPLE_OVERHEAD = 6
IT_EXAMPLE_OVERHEAD = 30          # ChatML roles and the instruction of an IT example
# Bytes per token of stage 7/10 token files (ids and the loss mask as text: ~6 + 2 bytes).
TOKEN_FILE_BYTES = 8.0
# Throughput: issue #16's outside measurement, 8.9k tokens/s for a 7B Llama on one H200, bf16.
REFERENCE_TOKENS_PER_SECOND = 8900.0
REFERENCE_PARAMS = 7.0e9
# Stage 9: tokens/s per GPU (prompt + generated) of batched greedy translation by a 7B model;
# an assumption, not measured (no 7B translator can run here): override with --translate_tokens_per_second.
REFERENCE_TRANSLATE_TOKENS_PER_SECOND = 2000.0
PSEUDO_ST_PROMPT_OVERHEAD = 20    # the translation prompt around each transcript
GIB = 1024.0 ** 3


def units_count(seconds: float, feature_type: str, dedup: bool, dedup_factor: Optional[float] = None) -> float:
    """DSUs of ``seconds`` of audio: ``seconds x frame_rate x (dedup_factor if dedup else 1)``."""
    factor = (DEDUP_FACTOR[feature_type] if dedup_factor is None else dedup_factor) if dedup else 1.0
    return seconds * FRAME_RATE[feature_type] * factor


def text_tokens(chars: float, chars_per_token: float = CHARS_PER_TOKEN) -> float:
    """LLM tokens of ``chars`` characters of text: ``chars / chars_per_token``."""
    return chars / chars_per_token


def cpt_tokens(units: float, transcript_tokens: float, utts: int, ratio: Optional[float],
               budget: float = 0.0, text_available: Optional[float] = None) -> "CptTokens":
    """Tokens of the CPT mixture, as stage 7 selects them (:func:`espnet_spire.lm.cpt_data.select`).

    ``speech = units + transcript_tokens + utts x SPEECH_EXAMPLE_OVERHEAD``; ``ratio`` is
    speech/text (the paper's 5:1 = 5.0, None: no mixing). Without ``text_available``, text is
    ``speech / ratio``; with it, the larger side is cut to the ratio. With a ``budget`` (> 0)
    both are scaled down so that ``speech + text <= budget``.
    """
    speech = units + transcript_tokens + utts * SPEECH_EXAMPLE_OVERHEAD
    if text_available is None:
        text = speech / ratio if ratio else 0.0
    else:
        text = float(text_available)
        if ratio and speech > 0 and text > 0:
            if speech > ratio * text:
                speech = ratio * text
            else:
                text = speech / ratio
    full = units + transcript_tokens + utts * SPEECH_EXAMPLE_OVERHEAD
    scale = min(1.0, budget / (speech + text)) if budget > 0 and speech + text > 0 else 1.0
    used = speech * scale / full if full > 0 else 1.0
    return CptTokens(speech * scale, text * scale, used)


@dataclass(frozen=True)
class CptTokens:
    """Speech and text tokens of a CPT mixture and the share of the available data used."""

    speech: float
    text: float
    used_share: float        # share of the available speech tokens used

    @property
    def total(self) -> float:
        return self.speech + self.text


def it_tokens(examples: float, units_per_example: float, output_tokens_per_example: float) -> float:
    """IT tokens: ``examples x (units + output tokens + IT_EXAMPLE_OVERHEAD)``."""
    return examples * (units_per_example + output_tokens_per_example + IT_EXAMPLE_OVERHEAD)


def pseudo_st_tokens(transcripts: float, langs: int, transcript_tokens: float) -> float:
    """Stage 9 tokens: ``transcripts x langs x (2 x transcript_tokens + PSEUDO_ST_PROMPT_OVERHEAD)``
    (the prompt holds the transcript, the translation is assumed as long as the transcript)."""
    return transcripts * langs * (2 * transcript_tokens + PSEUDO_ST_PROMPT_OVERHEAD)


def audio_dump_bytes(seconds: float, sample_rate: int = 16000, sample_bytes: int = 2) -> float:
    """Stage 2 dump: ``seconds x 16000 x 2`` bytes (16 kHz mono 16-bit wav; flac about half)."""
    return seconds * sample_rate * sample_bytes


def kmeans_feature_bytes(frames: float, dim: int, max_frames: int, portion: float = 1.0) -> float:
    """Stage 3 features: ``min(frames x portion, max_frames) x dim x 4`` bytes (float32)."""
    return min(frames * portion, float(max_frames)) * dim * 4


def units_text_bytes(units: float, utts: int, id_bytes: int = 30) -> float:
    """Stage 5 units file: ``units x 4`` (a PUA character is 4 UTF-8 bytes) ``+ utts x id_bytes``."""
    return units * 4 + utts * id_bytes


def token_file_bytes(tokens: float) -> float:
    """Stage 7/10 token files: ``tokens x TOKEN_FILE_BYTES``."""
    return tokens * TOKEN_FILE_BYTES


def checkpoint_bytes(params: float, weight_bytes: int, adam: bool = True) -> float:
    """One training checkpoint: ``params x (weight_bytes + 12)`` with Adam in mixed precision
    (fp32 master weights, momentum and variance, 4 bytes each; ZeRO-2/3 save them all, sharded),
    ``params x weight_bytes`` for weights only."""
    return params * (weight_bytes + (12 if adam else 0))


@dataclass(frozen=True)
class GpuMemory:
    """Bytes per device of one training setup (see :func:`gpu_memory`)."""

    weights: float
    grads: float
    optimizer: float
    activations: float
    logits: float

    @property
    def total(self) -> float:
        return self.weights + self.grads + self.optimizer + self.activations + self.logits


def gpu_memory(params: float, ngpu: int, zero_stage: int, mixed_precision: bool, layers: int,
               hidden: int, vocab: int, micro_batch: int, seq_len: int, checkpointing: bool) -> GpuMemory:
    """Memory per device for training with Adam (ZeRO paper, Rajbhandari et al. 2020, section 3).

    Mixed precision (bf16): weights ``2P``, grads ``2P``, optimizer ``12P`` (fp32 master, m, v);
    fp32: ``4P``, ``4P``, ``8P``. ZeRO-1 divides the optimizer by ``ngpu``, ZeRO-2 also the grads,
    ZeRO-3 also the weights. Activations (Korthikanti et al. 2022, attention with SDPA so no
    ``s^2`` term): without checkpointing ``layers x 34 x b x s x h`` bytes; with it, each layer
    keeps its ``2 x b x s x h`` input plus one layer's ``34 x b x s x h`` recomputed. Logits:
    ``b x s x vocab x 4`` (fp32 for the loss). ``b`` = sequences per device, ``s`` = tokens each.
    """
    n = max(1, ngpu)
    w, g, o = (2.0, 2.0, 12.0) if mixed_precision else (4.0, 4.0, 8.0)
    weights, grads, opt = params * w, params * g, params * o
    if zero_stage >= 1:
        opt /= n
    if zero_stage >= 2:
        grads /= n
    if zero_stage >= 3:
        weights /= n
    bsh = float(micro_batch) * seq_len * hidden
    acts = (layers * 2 * bsh + 34 * bsh) if checkpointing else layers * 34 * bsh
    logits = float(micro_batch) * seq_len * vocab * 4
    return GpuMemory(weights, grads, opt, acts, logits)


def tokens_per_second(params: float, reference: float = REFERENCE_TOKENS_PER_SECOND,
                      reference_params: float = REFERENCE_PARAMS) -> float:
    """Training throughput per GPU, scaled from the reference: ``reference x reference_params / params``
    (training costs about ``6 x params`` FLOPs per token, so throughput goes as ``1 / params``)."""
    return reference * reference_params / params if params > 0 else reference


def gpu_hours(tokens_processed: float, tokens_per_sec: float) -> float:
    """GPU-hours: ``tokens_processed / tokens_per_sec / 3600`` (throughput per GPU)."""
    return tokens_processed / tokens_per_sec / 3600.0
