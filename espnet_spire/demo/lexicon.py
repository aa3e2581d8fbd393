"""Loads the hand-written lexicon of the demo world (the YAML files in ``lexicon/``)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List

import yaml

LEXICON_DIR = Path(__file__).parent / "lexicon"
TARGET_LANGS = ("de", "fr", "es", "it", "pt", "nl", "ru", "zh", "ko")
ALL_LANGS = ("en",) + TARGET_LANGS


@dataclass(frozen=True)
class Lexicon:
    """All entries, keyed by their English form."""

    nouns: Dict[str, Dict[str, Any]]
    adjectives: Dict[str, Dict[str, Any]]
    verbs: Dict[str, Dict[str, Any]]
    times: Dict[str, Dict[str, str]]
    free_sentences: List[Dict[str, str]]

    def nouns_of(self, *classes: str) -> List[str]:
        return [k for k, v in self.nouns.items() if v["class"] in classes]

    def adjectives_for(self, noun: str) -> List[str]:
        """Adjectives that make sense with a noun: colours for animals and things, moods for
        animals and people."""
        cls = self.nouns[noun]["class"]
        kinds = {"animal": ("color", "mood"), "person": ("mood",), "thing": ("color",)}[cls]
        return [k for k, v in self.adjectives.items() if v["kind"] in kinds]


def _load(name: str) -> Any:
    with open(LEXICON_DIR / f"{name}.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)


@lru_cache(maxsize=1)
def load_lexicon() -> Lexicon:
    return Lexicon(
        nouns=_load("nouns"),
        adjectives=_load("adjectives"),
        verbs=_load("verbs"),
        times=_load("times"),
        free_sentences=_load("free_sentences"),
    )
