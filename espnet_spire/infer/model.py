"""``SpireModel``: one object from audio (or text) to text, for scripts, model cards and ``spire-infer``.

A model is either one self-contained dir, what stage 14 writes (``export/``: weights, tokenizer,
chat template, ``spire.json``, ``kmeans/``), or the three parts of a released SPIRE model (an HF
LLM dir, a SpireKMeans joblib or our k-means dir, a HuBERT dir)::

    from espnet_spire.infer import SpireModel
    model = SpireModel.from_pretrained("exp/train_it/spirefull/export")
    print(model.transcribe("speech.wav"))

Prompts and decoding are stage 12's (:mod:`espnet_spire.lm.decode`: the prompt style recorded in
the model's ``spire.json``, batched greedy decoding, stop at the first newline).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Union

from espnet_spire.audio.resample import DEFAULT_RESAMPLER, check_resampler
from espnet_spire.infer.inputs import Source, audio_sources, load_waveform, split_windows
from espnet_spire.infer.units import UnitConfig, UnitMaker
from espnet_spire.lm.decode import (
    DecodeConfig,
    GreedyDecoder,
    Task,
    build_messages,
    load_model_and_tokenizer,
    model_prompt_style,
    parse_task,
    render_prompt,
)
from espnet_spire.lm.prompts import PromptStyle

logger = logging.getLogger(__name__)

KMEANS_SUBDIR = "kmeans"
SSL_SUBDIR = "ssl_model"  # optional: a self-contained dir may carry its HuBERT here
TASKS = ("asr", "st", "multiturn_st", "mt")


@dataclass
class InferConfig:
    """Run settings (the CLI flags map one to one)."""

    device: str = "auto"
    dtype: str = "float32"
    batch_size: int = 8
    max_new_tokens: int = 256
    max_chunk_s: float = 30.0
    resampler: str = DEFAULT_RESAMPLER
    units: UnitConfig = field(default_factory=UnitConfig)


@dataclass
class Output:
    """The result for one input; ``transcript`` only for multi-turn ST (its first turn)."""

    id: str
    source: str
    task: str
    text: str
    transcript: Optional[str] = None
    windows: int = 1
    seconds: Optional[float] = None


@dataclass
class Skipped:
    """An input that gave no output, and why."""

    id: str
    source: str
    reason: str


@dataclass
class Result:
    outputs: List[Output]
    skipped: List[Skipped]


def task_for(kind: str, src_lang: str = "en", tgt_lang: Optional[str] = None) -> Task:
    """The stage-12 task of a CLI task name (languages checked against the prompt table)."""
    if kind not in TASKS:
        raise ValueError(f"unknown task {kind!r}: use one of {', '.join(TASKS)}")
    if kind == "asr":
        return parse_task("asr")
    if not tgt_lang:
        raise ValueError(f"task {kind} needs --tgt_lang (e.g. de)")
    if kind == "mt":
        return parse_task(f"mt_{src_lang}_{tgt_lang}")
    return parse_task(f"{kind}_{tgt_lang}")


class SpireModel:
    """A SPIRE speech+text LLM with the k-means model and feature extractor that make its units."""

    def __init__(self, llm_dir: str, kmeans: Optional[str], config: Optional[InferConfig] = None) -> None:
        self.config = cfg = config or InferConfig()
        check_resampler(cfg.resampler)
        cfg.units.device = cfg.device  # one device for the SSL model, the assignment and the LLM
        self.llm_dir = llm_dir
        self.lm, self.tokenizer = load_model_and_tokenizer(llm_dir, None, cfg.dtype, cfg.device)
        style = PromptStyle.from_name(model_prompt_style(llm_dir))
        self.decoder = GreedyDecoder(self.lm, self.tokenizer, DecodeConfig(
            batch_size=cfg.batch_size, max_new_tokens=cfg.max_new_tokens, dtype=cfg.dtype, device=cfg.device,
            style=style))
        self.units: Optional[UnitMaker] = UnitMaker(kmeans, cfg.units) if kmeans else None
        if self.units is not None:
            self._check_num_units(self.units.num_units)

    @classmethod
    def from_pretrained(cls, model_dir: str, config: Optional[InferConfig] = None, **overrides) -> "SpireModel":
        """A self-contained model dir (stage 14's ``export/``); ``overrides`` set InferConfig fields."""
        if not os.path.isdir(model_dir):
            raise FileNotFoundError(f"model dir not found: {model_dir}")
        cfg = config or InferConfig(**overrides)
        kmeans = os.path.join(model_dir, KMEANS_SUBDIR)
        if not os.path.isdir(kmeans):
            logger.warning("%s has no %s/: only text tasks (mt) will work", model_dir, KMEANS_SUBDIR)
            kmeans = None
        if cfg.units.ssl_model is None and os.path.isdir(os.path.join(model_dir, SSL_SUBDIR)):
            cfg.units.ssl_model = os.path.join(model_dir, SSL_SUBDIR)
        return cls(model_dir, kmeans, cfg)

    @classmethod
    def from_parts(cls, llm: str, kmeans: str, ssl_model: Optional[str], layer: int = 22,
                   config: Optional[InferConfig] = None) -> "SpireModel":
        """A released SPIRE model given as its parts: HF LLM dir, k-means file or dir, SSL model dir."""
        cfg = config or InferConfig()
        cfg.units.ssl_model, cfg.units.layer = ssl_model, layer
        return cls(llm, kmeans, cfg)

    def _check_num_units(self, k: int) -> None:
        """The LLM must have one token per k-means unit (its ``spire.json``, else its vocabulary)."""
        from espnet_spire.lm.facts import read_facts
        from espnet_spire.units.dsu_format import pua

        recorded = (read_facts(self.llm_dir) or {}).get("num_units")
        if recorded is not None and int(recorded) != k:
            raise ValueError(f"the model {self.llm_dir} has {recorded} unit tokens but its k-means model has K={k}")
        last = pua(k - 1)
        if self.tokenizer.convert_tokens_to_ids(last) in (None, self.tokenizer.unk_token_id):
            raise ValueError(f"the tokenizer of {self.llm_dir} has no token for unit {k - 1} (U+{ord(last):X}): "
                             f"it was not extended for this k-means model (K={k})")

    # ------------------------------------------------------------------ units

    def _speech_units(self, sources: Sequence[Source], progress: bool):
        """``({id: [unit string per window]}, {id: seconds}, [Skipped])``, featurised in batches."""
        from tqdm import tqdm

        if self.units is None:
            raise ValueError(f"{self.llm_dir} has no k-means model: speech tasks need one (--kmeans)")
        units: Dict[str, List[str]] = {}
        seconds: Dict[str, float] = {}
        skipped: List[Skipped] = []
        bs = max(1, self.config.batch_size)
        for start in tqdm(range(0, len(sources), bs), desc="units", unit="batch", disable=not progress):
            pieces, owners = [], []
            for src in sources[start:start + bs]:
                wav, reason = load_waveform(src.entry, self.config.resampler, self.units.min_samples)
                if wav is None:
                    logger.warning("%s (%s): skipped: %s", src.id, src.entry, reason)
                    skipped.append(Skipped(src.id, src.entry, str(reason)))
                    continue
                seconds[src.id] = len(wav) / 16000
                for a, b in split_windows(len(wav), self.config.max_chunk_s):
                    pieces.append(wav[a:b])
                    owners.append(src.id)
            for owner, text in zip(owners, self.units(pieces)):
                units.setdefault(owner, []).append(text)
        return units, seconds, skipped

    def _generate(self, task: Task, sources: List[str], transcripts: Optional[List[str]], progress: bool) -> List[str]:
        prompts = [render_prompt(self.tokenizer, build_messages(task, s, self.decoder.cfg.style,
                                                                None if transcripts is None else transcripts[i]),
                                 None)
                   for i, s in enumerate(sources)]
        return [h.strip() for h in self.decoder.generate(prompts, progress=progress)]

    # ------------------------------------------------------------------ runs

    def run(self, inputs: Union[str, Sequence[Union[str, Source]]], task: str = "asr", tgt_lang: Optional[str] = None,
            src_lang: str = "en", progress: bool = False) -> Result:
        """Decode ``inputs`` (audio paths, dirs, wav.scp files or Sources; for ``mt``, Sources of text)."""
        t = task_for(task, src_lang, tgt_lang)
        if isinstance(inputs, (str, os.PathLike)):
            inputs = [inputs]
        if all(isinstance(s, Source) for s in inputs):
            sources = list(inputs)
        else:
            sources = audio_sources([str(s) for s in inputs])
        if not t.speech:
            hyps = self._generate(t, [s.entry for s in sources], None, progress)
            return Result([Output(s.id, s.entry, t.name, h) for s, h in zip(sources, hyps)], [])
        units, seconds, skipped = self._speech_units(sources, progress)
        decoded = [s for s in sources if s.id in units]
        flat = [u for s in decoded for u in units[s.id]]
        transcripts = self._generate(Task("asr"), flat, None, progress) if t.kind == "multiturn_st" else None
        hyps = self._generate(t, flat, transcripts, progress)
        outputs, pos = [], 0
        for s in decoded:
            n = len(units[s.id])
            text = " ".join(h for h in hyps[pos:pos + n] if h)
            tr = None if transcripts is None else " ".join(h for h in transcripts[pos:pos + n] if h)
            outputs.append(Output(s.id, s.entry, t.name, text, tr, n, round(seconds[s.id], 3)))
            pos += n
        return Result(outputs, skipped)

    def _one_or_many(self, audio, task: str, tgt_lang: Optional[str]):
        single = isinstance(audio, (str, os.PathLike)) and os.path.isfile(audio) \
            and not str(audio).endswith(".scp")
        result = self.run([str(audio)] if single else list(audio), task, tgt_lang)
        if single:
            if not result.outputs:
                raise ValueError(f"{audio}: {result.skipped[0].reason}")
            return result.outputs[0].text
        return [o.text for o in result.outputs]

    def transcribe(self, audio):
        """Transcript of one audio file (a string), or of several (a list, unreadable ones left out)."""
        return self._one_or_many(audio, "asr", None)

    def translate(self, audio, tgt_lang: str):
        """Speech translation of one audio file (a string) or several (a list) into ``tgt_lang``."""
        return self._one_or_many(audio, "st", tgt_lang)

    def translate_text(self, texts: Sequence[str], src_lang: str, tgt_lang: str) -> List[str]:
        """Text MT of each string."""
        sources = [Source(f"text-{i:06d}", t) for i, t in enumerate(texts)]
        return [o.text for o in self.run(sources, "mt", tgt_lang, src_lang).outputs]
