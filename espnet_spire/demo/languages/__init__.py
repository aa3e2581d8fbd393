"""One renderer per language: ``render(meaning, lexicon) -> sentence``."""

from __future__ import annotations

from typing import Callable, Dict

from espnet_spire.demo.languages import de, en, ko, nl, ru, zh
from espnet_spire.demo.languages.romance import FRENCH, ITALIAN, PORTUGUESE, SPANISH
from espnet_spire.demo.lexicon import Lexicon
from espnet_spire.demo.meaning import Meaning

Renderer = Callable[[Meaning, Lexicon], str]

RENDERERS: Dict[str, Renderer] = {
    "en": en.render,
    "de": de.render,
    "fr": FRENCH.render,
    "es": SPANISH.render,
    "it": ITALIAN.render,
    "pt": PORTUGUESE.render,
    "nl": nl.render,
    "ru": ru.render,
    "zh": zh.render,
    "ko": ko.render,
}


def capitalize(sentence: str) -> str:
    """Upper-case the first letter (after a leading ¿), leaving the rest alone."""
    for i, ch in enumerate(sentence):
        if ch.isalpha():
            return sentence[:i] + ch.upper() + sentence[i + 1 :]
    return sentence
