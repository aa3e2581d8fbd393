"""Russian: gender agreement of adjectives and past-tense verbs, accusative objects, locative and
instrumental after prepositions, no present-tense copula."""

from espnet_spire.demo.lexicon import Lexicon
from espnet_spire.demo.meaning import Meaning

GENDER_INDEX = {"m": 0, "f": 1, "n": 2}
# preposition -> (word, case of the noun)
PREPS = {"on": ("на", "loc"), "under": ("под", "ins"), "in": ("в", "loc"),
         "next_to": ("рядом с", "ins"), "behind": ("за", "ins"), "in_front_of": ("перед", "ins")}
_CONSONANTS = set("бвгджзйклмнпрстфхцчшщ")


def _accusative_noun(nom: str, gender: str) -> str:
    """Inanimate accusative: feminine -а/-я become -у/-ю; everything else is the nominative."""
    if gender == "f" and nom[-1] in "ая":
        return nom[:-1] + {"а": "у", "я": "ю"}[nom[-1]]
    return nom


def _accusative_adjective(forms: list, gender: str) -> str:
    if gender == "f":
        return forms[1][:-2] + {"ая": "ую", "яя": "юю"}[forms[1][-2:]]
    return forms[GENDER_INDEX[gender]]


def _np(lex: Lexicon, noun: str, adj: "str | None", case: str = "nom") -> str:
    entry = lex.nouns[noun]["ru"]
    g = entry["g"]
    if case == "acc":
        head = _accusative_noun(entry["n"], g)
        mod = _accusative_adjective(lex.adjectives[adj]["ru"], g) if adj else None
    else:
        head = entry["n"]
        mod = lex.adjectives[adj]["ru"][GENDER_INDEX[g]] if adj else None
    return f"{mod} {head}" if mod else head


def _with_vowel(prep: str, word: str) -> str:
    """с -> со and в -> во before a cluster starting with the same kind of sound (со столом)."""
    last = prep.split()[-1]
    clusters = {"с": "сзшж", "в": "вф"}
    if last in clusters and word[0] in clusters[last] and word[1] in _CONSONANTS:
        return prep + "о"
    return prep


def _pp(lex: Lexicon, prep: str, place: str) -> str:
    word, case = PREPS[prep]
    noun = lex.nouns[place]["ru"][case]
    return f"{_with_vowel(word, noun)} {noun}"


def render(m: Meaning, lex: Lexicon) -> str:
    subj = _np(lex, m.subject, m.subj_adj)
    g = GENDER_INDEX[lex.nouns[m.subject]["ru"]["g"]]
    time = f" {lex.times[m.time]['ru']}" if m.time else ""
    if m.template == "transitive":
        verb = lex.verbs[m.verb]["ru"][g]
        s = f"{subj}{time} {verb} {_np(lex, m.obj, m.obj_adj, 'acc')}."
    elif m.template == "intransitive":
        s = f"{subj}{time} {lex.verbs[m.verb]['ru'][g]}."
    elif m.template == "location":
        s = f"{subj} {_pp(lex, m.prep, m.place)}."
    else:
        s = f"Где {subj}?"
    return s[0].upper() + s[1:]
