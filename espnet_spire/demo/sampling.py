"""Deterministic sampling of distinct sentences from the demo grammar and their split into
test, dev, speech-train, MT-train and monolingual pools.

Held-out (dev/test) sentences never occur in any training pool, and every English word they use
occurs in the speech-train pool, so that they are new combinations of seen words.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Set

from espnet_spire.demo.languages import RENDERERS
from espnet_spire.demo.lexicon import ALL_LANGS, Lexicon
from espnet_spire.demo.meaning import Meaning

# Share of each template among sampled sentences (questions are few: 332 exist).
TEMPLATE_WEIGHTS = (("transitive", 0.50), ("location", 0.30), ("intransitive", 0.15),
                    ("question", 0.05))

Sentence = Dict[str, str]  # language code -> sentence


@dataclass
class Pools:
    test: List[Sentence]
    dev: List[Sentence]
    train: List[Sentence]
    mt_train: List[Sentence]
    mono: List[Sentence]


def english_words(sentence: str) -> List[str]:
    return re.findall(r"[a-z']+", sentence.lower())


class MeaningSampler:
    """Draws random meanings template by template; the lexicon's order makes it reproducible."""

    def __init__(self, lex: Lexicon, rng: random.Random) -> None:
        self.lex = lex
        self.rng = rng
        self.agents = lex.nouns_of("animal", "person")
        self.figures = lex.nouns_of("animal", "person", "thing")
        self.things = lex.nouns_of("thing")
        self.places = lex.nouns_of("place")
        self.times: List[Optional[str]] = [None] + list(lex.times)

    def _adj(self, noun: str) -> Optional[str]:
        return self.rng.choice([None] + self.lex.adjectives_for(noun))

    def _verb(self, kind: str, subject: str) -> str:
        cls = self.lex.nouns[subject]["class"]
        verbs = [k for k, v in self.lex.verbs.items()
                 if v["kind"] == kind and cls in v["subjects"]]
        return self.rng.choice(verbs)

    def draw(self, template: str) -> Meaning:
        rng = self.rng
        if template in ("transitive", "intransitive"):
            subj = rng.choice(self.agents)
            verb = self._verb(template, subj)
            sa, time = self._adj(subj), rng.choice(self.times)
            if template == "intransitive":
                return Meaning(template, subj, sa, verb, time=time)
            obj = rng.choice(self.lex.verbs[verb].get("objects", self.things))
            return Meaning(template, subj, sa, verb, obj, self._adj(obj), time=time)
        subj = rng.choice(self.figures)
        if template == "question":
            return Meaning(template, subj, self._adj(subj))
        place = rng.choice(self.places)
        prep = rng.choice(self.lex.nouns[place]["preps"])
        return Meaning(template, subj, self._adj(subj), prep=prep, place=place)


def render_all(m: Meaning, lex: Lexicon) -> Sentence:
    return {lang: RENDERERS[lang](m, lex) for lang in ALL_LANGS}


def sample_sentences(lex: Lexicon, n: int, rng: random.Random, seen: Set[str]) -> List[Sentence]:
    """n new sentences (English side not in ``seen``), templates mixed by TEMPLATE_WEIGHTS."""
    sampler = MeaningSampler(lex, rng)
    names = [t for t, _ in TEMPLATE_WEIGHTS]
    weights = [w for _, w in TEMPLATE_WEIGHTS]
    out: List[Sentence] = []
    attempts = 0
    while len(out) < n:
        attempts += 1
        if attempts > 100 * n + 10000:
            raise RuntimeError(f"the demo grammar cannot give {n} more distinct sentences")
        m = sampler.draw(rng.choices(names, weights)[0])
        sent = render_all(m, lex)
        if sent["en"] in seen:
            continue
        seen.add(sent["en"])
        out.append(sent)
    return out


def _cover(held_out: List[Sentence], train: Sequence[Sentence], lex: Lexicon,
           rng: random.Random, seen: Set[str]) -> List[Sentence]:
    """Replace held-out sentences that use a word unseen in training by fresh ones that don't."""
    vocab = {w for s in train for w in english_words(s["en"])}
    kept = [s for s in held_out if set(english_words(s["en"])) <= vocab]
    while len(kept) < len(held_out):
        for s in sample_sentences(lex, len(held_out) - len(kept), rng, seen):
            if set(english_words(s["en"])) <= vocab:
                kept.append(s)
    return kept


def make_pools(lex: Lexicon, seed: int, n_test: int, n_dev: int, n_train: int, n_mt: int,
               n_mono: int) -> Pools:
    rng = random.Random(seed)
    seen: Set[str] = set()
    train = sample_sentences(lex, n_train, rng, seen)
    mt_train = sample_sentences(lex, n_mt, rng, seen)
    mono = sample_sentences(lex, n_mono, rng, seen)
    free = [dict(s) for s in lex.free_sentences]
    for s in free:
        seen.add(s["en"])
    # Hand-written sentences are text-only data: half to MT, half to monolingual text.
    mt_train += free[0::2]
    mono += free[1::2]
    test = _cover(sample_sentences(lex, n_test, rng, seen), train, lex, rng, seen)
    dev = _cover(sample_sentences(lex, n_dev, rng, seen), train, lex, rng, seen)
    return Pools(test=test, dev=dev, train=train, mt_train=mt_train, mono=mono)
