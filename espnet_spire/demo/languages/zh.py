"""Chinese: no inflection; time after the subject, location as 在 + noun + localiser."""

from espnet_spire.demo.lexicon import Lexicon
from espnet_spire.demo.meaning import Meaning

LOCALISERS = {"on": "上", "under": "下面", "in": "里", "next_to": "旁边", "behind": "后面",
              "in_front_of": "前面"}


def _np(lex: Lexicon, noun: str, adj: "str | None") -> str:
    return (lex.adjectives[adj]["zh"] if adj else "") + lex.nouns[noun]["zh"]


def render(m: Meaning, lex: Lexicon) -> str:
    subj = _np(lex, m.subject, m.subj_adj)
    time = lex.times[m.time]["zh"] if m.time else ""
    if m.template == "transitive":
        return f"{subj}{time}{lex.verbs[m.verb]['zh']}{_np(lex, m.obj, m.obj_adj)}。"
    if m.template == "intransitive":
        return f"{subj}{time}{lex.verbs[m.verb]['zh']}。"
    if m.template == "location":
        return f"{subj}在{lex.nouns[m.place]['zh']}{LOCALISERS[m.prep]}。"
    return f"{subj}在哪里？"
