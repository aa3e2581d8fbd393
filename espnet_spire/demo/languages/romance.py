"""French, Spanish, Italian and Portuguese share one grammar here: a definite article chosen by
gender (and, in French and Italian, by the first sound of the noun), adjectives after the noun
agreeing in gender, and preposition + article contractions (du, del, sul, na...)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Tuple

from espnet_spire.demo.lexicon import Lexicon
from espnet_spire.demo.meaning import Meaning

_VOWEL_START = tuple("aeiouyàâäéèêëîïôöûùüh")


def _french_article(entry: dict) -> str:
    elide = entry.get("elide", entry["n"].lower().startswith(_VOWEL_START))
    return "l'" if elide else {"m": "le", "f": "la"}[entry["g"]]


@dataclass(frozen=True)
class Romance:
    lang: str
    article: Callable[[dict], str]
    preps: Dict[str, str]
    contractions: Dict[Tuple[str, str], str]
    location: str       # "{np} est {pp}." etc.
    question: str       # "Où est {np} ?" etc.

    def _np(self, lex: Lexicon, noun: str, adj: "str | None") -> str:
        entry = lex.nouns[noun][self.lang]
        art = self.article(entry)
        words = art + entry["n"] if art.endswith("'") else f"{art} {entry['n']}"
        if adj:
            words += " " + lex.adjectives[adj][self.lang]["mf".index(entry["g"])]
        return words

    def _pp(self, lex: Lexicon, prep: str, place: str) -> str:
        """Preposition + article + noun, contracting the last word of the preposition with the
        article where the language does (de + le = du, em + a = na, su + il = sul)."""
        entry = lex.nouns[place][self.lang]
        art = self.article(entry)
        head, _, last = self.preps[prep].rpartition(" ")
        joined = self.contractions.get((last, art))
        if joined is None:
            joined = f"{last} {art}"
        phrase = f"{head} {joined}" if head else joined
        return phrase + entry["n"] if phrase.endswith("'") else f"{phrase} {entry['n']}"

    def render(self, m: Meaning, lex: Lexicon) -> str:
        subj = self._np(lex, m.subject, m.subj_adj)
        time = f" {lex.times[m.time][self.lang]}" if m.time else ""
        if m.template == "transitive":
            verb = lex.verbs[m.verb][self.lang]
            s = f"{subj} {verb} {self._np(lex, m.obj, m.obj_adj)}{time}."
        elif m.template == "intransitive":
            s = f"{subj} {lex.verbs[m.verb][self.lang]}{time}."
        elif m.template == "location":
            s = self.location.format(np=subj, pp=self._pp(lex, m.prep, m.place))
        else:
            s = self.question.format(np=subj)
        return s[0].upper() + s[1:]


def _italian_contractions() -> Dict[Tuple[str, str], str]:
    stems = {"su": "su", "a": "a", "in": "ne", "di": "de"}
    table = {}
    for prep, stem in stems.items():
        table[(prep, "il")] = {"su": "sul", "a": "al", "in": "nel", "di": "del"}[prep]
        table[(prep, "lo")] = stem + "llo"
        table[(prep, "l'")] = stem + "ll'"
        table[(prep, "la")] = stem + "lla"
    return table


FRENCH = Romance(
    lang="fr",
    article=_french_article,
    preps={"on": "sur", "under": "sous", "in": "dans", "next_to": "à côté de",
           "behind": "derrière", "in_front_of": "devant"},
    contractions={("de", "le"): "du"},
    location="{np} est {pp}.",
    question="Où est {np} ?",
)
SPANISH = Romance(
    lang="es",
    article=lambda e: {"m": "el", "f": "la"}[e["g"]],
    preps={"on": "sobre", "under": "debajo de", "in": "en", "next_to": "al lado de",
           "behind": "detrás de", "in_front_of": "delante de"},
    contractions={("de", "el"): "del"},
    location="{np} está {pp}.",
    question="¿Dónde está {np}?",
)
ITALIAN = Romance(
    lang="it",
    article=lambda e: e["art"],
    preps={"on": "su", "under": "sotto", "in": "in", "next_to": "accanto a",
           "behind": "dietro", "in_front_of": "davanti a"},
    contractions=_italian_contractions(),
    location="{np} è {pp}.",
    question="Dov'è {np}?",
)
PORTUGUESE = Romance(
    lang="pt",
    article=lambda e: {"m": "o", "f": "a"}[e["g"]],
    preps={"on": "sobre", "under": "embaixo de", "in": "em", "next_to": "ao lado de",
           "behind": "atrás de", "in_front_of": "na frente de"},
    contractions={("de", "o"): "do", ("de", "a"): "da", ("em", "o"): "no", ("em", "a"): "na"},
    location="{np} está {pp}.",
    question="Onde está {np}?",
)
