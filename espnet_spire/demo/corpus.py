"""Writes the demo corpus: Kaldi-style speech data dirs with translation references, multi-parallel
MT text and monolingual text, all sorted with LC_ALL=C byte order.

Layout (prefix "demo"):
  data/demo_{train,dev,test}/  wav.scp text utt2spk spk2utt text.tc.<lang> (en and 9 targets)
  data/demo_mt_train/          text.tc.<lang> for the ten languages, aligned by id: parallel text
                               for MT in both directions (en->xx and xx->en)
  data/demo_mono/              text.tc.<lang>: monolingual text, not aligned across languages
  data/demo_info.json          sizes, seed, vocabulary and generator settings
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from espnet_spire.common.kaldi_dir import utt2spk_to_spk2utt, write_kaldi_file, write_spk2utt
from espnet_spire.demo.lexicon import ALL_LANGS, load_lexicon
from espnet_spire.demo.sampling import Pools, Sentence, english_words, make_pools
from espnet_spire.demo.synth import (
    PITCH_RANGE,
    SPEED_RANGE,
    VOICES,
    SynthJob,
    speaker_id,
    synthesize_all,
)

log = logging.getLogger(__name__)


def _speech_set(name: str, sentences: Sequence[Sentence], audio_dir: Path, renderings: int,
                seed: int) -> Tuple[Dict[str, Sentence], List[SynthJob], Dict[str, str]]:
    """Assign voice, speed and pitch to every utterance of one set (deterministic)."""
    rng = random.Random(f"{seed}-{name}")
    utts: Dict[str, Sentence] = {}
    jobs: List[SynthJob] = []
    wav_scp: Dict[str, str] = {}
    k = 0
    for i, sent in enumerate(sentences):
        for r in range(renderings):
            voice = VOICES[k % len(VOICES)]
            k += 1
            spk = speaker_id(voice)
            uttid = f"{spk}-{name}{i:05d}" + (f"r{r}" if renderings > 1 else "")
            job = SynthJob(sent["en"], voice, rng.randint(*SPEED_RANGE),
                           rng.randint(*PITCH_RANGE), Path())
            path = audio_dir / name / spk / f"{uttid}-{job.digest()}.wav"
            job = dataclasses.replace(job, path=path)
            jobs.append(job)
            utts[uttid] = sent
            wav_scp[uttid] = str(path)
    return utts, jobs, wav_scp


def _write_speech_dir(out: Path, utts: Dict[str, Sentence], wav_scp: Dict[str, str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    utt2spk = {u: u.split("-", 1)[0] for u in utts}
    write_kaldi_file(out / "wav.scp", wav_scp)
    write_kaldi_file(out / "text", {u: s["en"] for u, s in utts.items()})
    write_kaldi_file(out / "utt2spk", utt2spk)
    write_spk2utt(out / "spk2utt", utt2spk_to_spk2utt(utt2spk))
    for lang in ALL_LANGS:
        write_kaldi_file(out / f"text.tc.{lang}", {u: s[lang] for u, s in utts.items()})


def _write_text_dir(out: Path, name: str, sentences: Sequence[Sentence], aligned: bool,
                    seed: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for lang in ALL_LANGS:
        order = list(range(len(sentences)))
        if not aligned:  # a different order per language: no alignment to exploit
            random.Random(f"{seed}-{name}-{lang}").shuffle(order)
        write_kaldi_file(out / f"text.tc.{lang}",
                         {f"{name}-{lang if not aligned else ''}{j:05d}".replace("--", "-"):
                          sentences[i][lang] for j, i in enumerate(order)})


def make_demo_corpus(data_dir: Path, audio_dir: Path, prefix: str = "demo", seed: int = 0,
                     n_train: int = 2400, n_dev: int = 250, n_test: int = 250,
                     n_mt: int = 2000, n_mono: int = 1500, train_renderings: int = 1,
                     nj: int = 2, synthesize: bool = True) -> Dict[str, object]:
    """Generate text, synthesise speech and write every data dir; returns the info dict."""
    lex = load_lexicon()
    pools: Pools = make_pools(lex, seed, n_test, n_dev, n_train, n_mt, n_mono)
    all_jobs: List[SynthJob] = []
    speech = {}
    for name, sents, reps in (("train", pools.train, train_renderings), ("dev", pools.dev, 1),
                              ("test", pools.test, 1)):
        speech[name] = _speech_set(name, sents, audio_dir, reps, seed)
        all_jobs += speech[name][1]
    if synthesize:
        synthesize_all(all_jobs, nj=nj)
    for name, (utts, _, wav_scp) in speech.items():
        _write_speech_dir(data_dir / f"{prefix}_{name}", utts, wav_scp)
    _write_text_dir(data_dir / f"{prefix}_mt_train", "mt", pools.mt_train, True, seed)
    _write_text_dir(data_dir / f"{prefix}_mono", "mono", pools.mono, False, seed)

    everything = pools.train + pools.mt_train + pools.mono + pools.dev + pools.test
    info = {
        "seed": seed,
        "sentences": {"train": len(pools.train), "dev": len(pools.dev), "test": len(pools.test),
                      "mt_train": len(pools.mt_train), "mono": len(pools.mono),
                      "distinct_english": len({s["en"] for s in everything})},
        "utterances": {k: len(v[0]) for k, v in speech.items()},
        "english_vocabulary": len({w for s in everything for w in english_words(s["en"])}),
        "voices": list(VOICES), "speed_range": list(SPEED_RANGE), "pitch_range": list(PITCH_RANGE),
        "languages": list(ALL_LANGS),
    }
    (data_dir / f"{prefix}_info.json").write_text(json.dumps(info, indent=2) + "\n")
    log.info("demo corpus: %s", json.dumps(info))
    return info
