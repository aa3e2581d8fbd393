"""Dutch: de/het articles, inflected adjectives after the article, V2 word order."""

from espnet_spire.demo.lexicon import Lexicon
from espnet_spire.demo.meaning import Meaning

PREPS = {"on": "op", "under": "onder", "in": "in", "next_to": "naast", "behind": "achter",
         "in_front_of": "voor"}


def _np(lex: Lexicon, noun: str, adj: "str | None") -> str:
    entry = lex.nouns[noun]["nl"]
    words = [entry["art"]]
    if adj:
        words.append(lex.adjectives[adj]["nl"])
    words.append(entry["n"])
    return " ".join(words)


def render(m: Meaning, lex: Lexicon) -> str:
    subj = _np(lex, m.subject, m.subj_adj)
    time = f" {lex.times[m.time]['nl']}" if m.time else ""
    if m.template == "transitive":
        s = f"{subj} {lex.verbs[m.verb]['nl']}{time} {_np(lex, m.obj, m.obj_adj)}."
    elif m.template == "intransitive":
        s = f"{subj} {lex.verbs[m.verb]['nl']}{time}."
    elif m.template == "location":
        s = f"{subj} is {PREPS[m.prep]} {_np(lex, m.place, None)}."
    else:
        s = f"Waar is {subj}?"
    return s[0].upper() + s[1:]
