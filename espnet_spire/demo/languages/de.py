"""German: definite articles and weak adjective endings by gender and case, V2 word order."""

from espnet_spire.demo.lexicon import Lexicon
from espnet_spire.demo.meaning import Meaning

ARTICLES = {
    "nom": {"m": "der", "f": "die", "n": "das"},
    "acc": {"m": "den", "f": "die", "n": "das"},
    "dat": {"m": "dem", "f": "der", "n": "dem"},
}
PREPS = {"on": "auf", "under": "unter", "in": "in", "next_to": "neben", "behind": "hinter",
         "in_front_of": "vor"}


def _weak_adjective(stem: str, gender: str, case: str) -> str:
    """Weak declension after the definite article: -e in the nominative and in the feminine or
    neuter accusative, -en everywhere else (singular)."""
    short = case == "nom" or (case == "acc" and gender in "fn")
    ending = "e" if short else "en"
    return stem + (ending[1:] if stem.endswith("e") else ending)


def _np(lex: Lexicon, noun: str, adj: "str | None", case: str) -> str:
    entry = lex.nouns[noun]["de"]
    words = [ARTICLES[case][entry["g"]]]
    if adj:
        words.append(_weak_adjective(lex.adjectives[adj]["de"], entry["g"], case))
    words.append(entry["n"])
    return " ".join(words)


def _pp(lex: Lexicon, prep: str, place: str) -> str:
    entry = lex.nouns[place]["de"]
    article = ARTICLES["dat"][entry["g"]]
    if prep == "in" and article == "dem":
        return f"im {entry['n']}"
    return f"{PREPS[prep]} {article} {entry['n']}"


def render(m: Meaning, lex: Lexicon) -> str:
    subj = _np(lex, m.subject, m.subj_adj, "nom")
    time = f" {lex.times[m.time]['de']}" if m.time else ""
    if m.template == "transitive":
        verb = lex.verbs[m.verb]["de"]
        s = f"{subj} {verb}{time} {_np(lex, m.obj, m.obj_adj, 'acc')}."
    elif m.template == "intransitive":
        s = f"{subj} {lex.verbs[m.verb]['de']}{time}."
    elif m.template == "location":
        s = f"{subj} ist {_pp(lex, m.prep, m.place)}."
    else:
        s = f"Wo ist {subj}?"
    return s[0].upper() + s[1:]
