"""English: the source language of the demo world."""

from espnet_spire.demo.lexicon import Lexicon
from espnet_spire.demo.meaning import Meaning

PREPS = {"on": "on", "under": "under", "in": "in", "next_to": "next to", "behind": "behind",
         "in_front_of": "in front of"}


def _np(noun: str, adj: "str | None") -> str:
    return f"the {adj} {noun}" if adj else f"the {noun}"


def render(m: Meaning, lex: Lexicon) -> str:
    subj = _np(m.subject, m.subj_adj)
    time = f" {m.time}" if m.time else ""
    if m.template == "transitive":
        s = f"{subj} {m.verb} {_np(m.obj, m.obj_adj)}{time}."
    elif m.template == "intransitive":
        s = f"{subj} {m.verb}{time}."
    elif m.template == "location":
        s = f"{subj} is {PREPS[m.prep]} the {m.place}."
    else:
        s = f"where is {subj}?"
    return s[0].upper() + s[1:]
