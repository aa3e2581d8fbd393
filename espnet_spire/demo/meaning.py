"""Language-independent sentence meanings and their enumeration.

A :class:`Meaning` fixes every lexical choice of one sentence; each language module renders it.
Four templates:
  transitive    "The black dog saw the red ball yesterday."
  location      "The black dog is under the table."
  question      "Where is the black dog?"
  intransitive  "The tired girl slept on Monday."
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional

from espnet_spire.demo.lexicon import Lexicon

PREPOSITIONS = ("on", "under", "in", "next_to", "behind", "in_front_of")


@dataclass(frozen=True, order=True)
class Meaning:
    template: str
    subject: str
    subj_adj: Optional[str] = None
    verb: Optional[str] = None
    obj: Optional[str] = None
    obj_adj: Optional[str] = None
    prep: Optional[str] = None
    place: Optional[str] = None
    time: Optional[str] = None


def _with_adjectives(lex: Lexicon, noun: str) -> Iterator[Optional[str]]:
    yield None
    yield from lex.adjectives_for(noun)


def enumerate_meanings(lex: Lexicon) -> Iterator[Meaning]:
    """Every meaning the grammar allows, in a fixed order (the basis of deterministic sampling)."""
    agents = lex.nouns_of("animal", "person")
    figures = lex.nouns_of("animal", "person", "thing")
    things = lex.nouns_of("thing")
    places = lex.nouns_of("place")
    times = [None] + list(lex.times)
    for verb, v in lex.verbs.items():
        for subj in agents:
            if lex.nouns[subj]["class"] not in v["subjects"]:
                continue
            for sa in _with_adjectives(lex, subj):
                for t in times:
                    if v["kind"] == "intransitive":
                        yield Meaning("intransitive", subj, sa, verb, time=t)
                        continue
                    for obj in v.get("objects", things):
                        for oa in _with_adjectives(lex, obj):
                            yield Meaning("transitive", subj, sa, verb, obj, oa, time=t)
    for subj in figures:
        for sa in _with_adjectives(lex, subj):
            yield Meaning("question", subj, sa)
            for place in places:
                for prep in lex.nouns[place]["preps"]:
                    yield Meaning("location", subj, sa, prep=prep, place=place)
