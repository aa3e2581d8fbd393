"""Korean: SOV order, particles chosen by whether the noun ends in a consonant (batchim),
polite past-tense verbs, location as noun + position + 에 있어요."""

from espnet_spire.demo.lexicon import Lexicon
from espnet_spire.demo.meaning import Meaning

POSITIONS = {"on": "위", "under": "아래", "in": "안", "next_to": "옆", "behind": "뒤",
             "in_front_of": "앞"}


def has_batchim(word: str) -> bool:
    """True when the last Hangul syllable ends in a consonant (it takes 이/을/은, not 가/를/는)."""
    code = ord(word[-1]) - 0xAC00
    if not 0 <= code < 11172:
        raise ValueError(f"not a Hangul syllable at the end of {word!r}")
    return code % 28 != 0


def particle(word: str, kind: str) -> str:
    """Attach the subject (이/가), object (을/를) or topic (은/는) particle."""
    pair = {"subject": ("이", "가"), "object": ("을", "를"), "topic": ("은", "는")}[kind]
    return word + (pair[0] if has_batchim(word) else pair[1])


def _np(lex: Lexicon, noun: str, adj: "str | None") -> str:
    head = lex.nouns[noun]["ko"]
    return f"{lex.adjectives[adj]['ko']} {head}" if adj else head


def render(m: Meaning, lex: Lexicon) -> str:
    subj = _np(lex, m.subject, m.subj_adj)
    time = f"{lex.times[m.time]['ko']} " if m.time else ""
    if m.template == "transitive":
        obj = particle(_np(lex, m.obj, m.obj_adj), "object")
        return f"{time}{particle(subj, 'subject')} {obj} {lex.verbs[m.verb]['ko']}."
    if m.template == "intransitive":
        return f"{time}{particle(subj, 'subject')} {lex.verbs[m.verb]['ko']}."
    if m.template == "location":
        place = lex.nouns[m.place]["ko"]
        return f"{particle(subj, 'subject')} {place} {POSITIONS[m.prep]}에 있어요."
    return f"{particle(subj, 'topic')} 어디에 있어요?"
