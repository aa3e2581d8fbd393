"""The demo world's translation tables: completeness, scripts, agreement and determinism."""

import random
import re
import unicodedata

import pytest

from espnet_spire.demo.languages import RENDERERS
from espnet_spire.demo.languages.ko import particle
from espnet_spire.demo.lexicon import ALL_LANGS, TARGET_LANGS, load_lexicon
from espnet_spire.demo.meaning import Meaning, enumerate_meanings
from espnet_spire.demo.sampling import english_words, make_pools, render_all

LEX = load_lexicon()
SCRIPT = {"ru": "CYRILLIC", "zh": "CJK", "ko": "HANGUL"}


def _scripts(sentence: str) -> set:
    names = set()
    for ch in sentence:
        if ch.isalpha():
            names.add(unicodedata.name(ch).split()[0])
    return names


@pytest.fixture(scope="module")
def pools():
    return make_pools(LEX, seed=0, n_test=250, n_dev=250, n_train=2400, n_mt=2000, n_mono=1500)


def test_every_lexicon_entry_has_all_languages():
    for table in (LEX.nouns, LEX.adjectives, LEX.verbs, LEX.times):
        for key, entry in table.items():
            missing = [lang for lang in TARGET_LANGS if not entry.get(lang)]
            assert not missing, f"{key} lacks {missing}"
    for sent in LEX.free_sentences:
        assert set(ALL_LANGS) <= set(sent), sent["en"]


def test_every_sentence_has_nine_translations_in_the_right_script(pools):
    everything = pools.train + pools.dev + pools.test + pools.mt_train + pools.mono
    for sent in everything:
        assert set(sent) == set(ALL_LANGS)
        for lang, text in sent.items():
            assert text.strip() == text and text, (lang, sent["en"])
            expected = {SCRIPT.get(lang, "LATIN")}
            assert _scripts(text) == expected, (lang, text)
            assert text[-1] in ".?。？", (lang, text)


def test_at_least_5000_distinct_sentences_over_a_few_hundred_words(pools):
    everything = pools.train + pools.dev + pools.test + pools.mt_train + pools.mono
    english = [s["en"] for s in everything]
    assert len(set(english)) == len(english) >= 5000
    vocab = {w for e in english for w in english_words(e)}
    assert 180 <= len(vocab) <= 400


def test_held_out_sentences_are_new_combinations_of_seen_words(pools):
    train_sents = {s["en"] for s in pools.train + pools.mt_train + pools.mono}
    train_vocab = {w for s in pools.train for w in english_words(s["en"])}
    for held in (pools.dev, pools.test):
        assert len(held) == 250
        for s in held:
            assert s["en"] not in train_sents
            assert set(english_words(s["en"])) <= train_vocab
    assert not {s["en"] for s in pools.dev} & {s["en"] for s in pools.test}


def test_pools_are_deterministic_and_depend_on_the_seed():
    a = make_pools(LEX, 3, 20, 20, 100, 50, 50)
    b = make_pools(LEX, 3, 20, 20, 100, 50, 50)
    c = make_pools(LEX, 4, 20, 20, 100, 50, 50)
    assert a == b
    assert a.train != c.train


@pytest.mark.slow
def test_every_meaning_renders_in_every_language():
    # The full grammar is large; render a seeded sample of every template.
    by_template = {}
    for m in enumerate_meanings(LEX):
        by_template.setdefault(m.template, []).append(m)
    assert set(by_template) == {"transitive", "intransitive", "location", "question"}
    rng = random.Random(0)
    for ms in by_template.values():
        for m in rng.sample(ms, min(300, len(ms))):
            out = render_all(m, LEX)
            assert len(set(out.values())) == len(out)


GOLDEN = [
    (Meaning("location", "cat", "black", prep="under", place="table"), {
        "en": "The black cat is under the table.",
        "de": "Die schwarze Katze ist unter dem Tisch.",
        "fr": "Le chat noir est sous la table.",
        "es": "El gato negro está debajo de la mesa.",
        "it": "Il gatto nero è sotto il tavolo.",
        "pt": "O gato preto está embaixo da mesa.",
        "nl": "De zwarte kat is onder de tafel.",
        "ru": "Чёрная кошка под столом.",
        "zh": "黑色的猫在桌子下面。",
        "ko": "검은 고양이가 탁자 아래에 있어요.",
    }),
    (Meaning("transitive", "boy", "tired", "found", "book", "red", time="yesterday"), {
        "en": "The tired boy found the red book yesterday.",
        "de": "Der müde Junge fand gestern das rote Buch.",
        "fr": "Le garçon fatigué a trouvé le livre rouge hier.",
        "es": "El niño cansado encontró el libro rojo ayer.",
        "it": "Il ragazzo stanco ha trovato il libro rosso ieri.",
        "pt": "O menino cansado encontrou o livro vermelho ontem.",
        "nl": "De vermoeide jongen vond gisteren het rode boek.",
        "ru": "Усталый мальчик вчера нашёл красную книгу.",
        "zh": "疲惫的男孩昨天找到了红色的书。",
        "ko": "어제 피곤한 소년이 빨간 책을 찾았어요.",
    }),
    (Meaning("location", "bird", None, prep="next_to", place="tree"), {
        "en": "The bird is next to the tree.",
        "de": "Der Vogel ist neben dem Baum.",
        "fr": "L'oiseau est à côté de l'arbre.",
        "es": "El pájaro está al lado del árbol.",
        "it": "L'uccello è accanto all'albero.",
        "pt": "O pássaro está ao lado da árvore.",
        "nl": "De vogel is naast de boom.",
        "ru": "Птица рядом с деревом.",
        "zh": "鸟在树旁边。",
        "ko": "새가 나무 옆에 있어요.",
    }),
    (Meaning("location", "dog", "happy", prep="in", place="garden"), {
        "de": "Der glückliche Hund ist im Garten.",
        "fr": "Le chien heureux est dans le jardin.",
        "es": "El perro feliz está en el jardín.",
        "it": "Il cane felice è nel giardino.",
        "pt": "O cachorro feliz está no jardim.",
        "ru": "Счастливая собака в саду.",
        "zh": "快乐的狗在花园里。",
        "ko": "행복한 개가 정원 안에 있어요.",
    }),
    (Meaning("transitive", "woman", None, "bought", "hat", "black", time="on Monday"), {
        "de": "Die Frau kaufte am Montag den schwarzen Hut.",
        "fr": "La femme a acheté le chapeau noir lundi.",
        "ru": "Женщина в понедельник купила чёрную шляпу.",
        "nl": "De vrouw kocht op maandag de zwarte hoed.",
        "ko": "월요일에 여자가 검은 모자를 샀어요.",
    }),
    (Meaning("location", "book", None, prep="on", place="shelf"), {
        "de": "Das Buch ist auf dem Regal.",
        "fr": "Le livre est sur l'étagère.",
        "it": "Il libro è sullo scaffale.",
        "ru": "Книга на полке.",
        "ko": "책이 선반 위에 있어요.",
    }),
    (Meaning("location", "ball", None, prep="next_to", place="table"), {
        "ru": "Мяч рядом со столом.",
        "it": "La palla è accanto al tavolo.",
        "es": "La pelota está al lado de la mesa.",
    }),
    (Meaning("question", "girl", "sad"), {
        "en": "Where is the sad girl?",
        "de": "Wo ist das traurige Mädchen?",
        "fr": "Où est la fille triste ?",
        "es": "¿Dónde está la niña triste?",
        "it": "Dov'è la ragazza triste?",
        "ru": "Где грустная девочка?",
        "zh": "伤心的女孩在哪里？",
        "ko": "슬픈 소녀는 어디에 있어요?",
    }),
    (Meaning("intransitive", "queen", "angry", "laughed", time="last night"), {
        "en": "The angry queen laughed last night.",
        "de": "Die wütende Königin lachte gestern Abend.",
        "es": "La reina enfadada se rio anoche.",
        "ru": "Сердитая королева вчера вечером смеялась.",
    }),
    (Meaning("transitive", "mother", None, "washed", "towel", None), {
        "ru": "Мать помыла полотенце.",
        "de": "Die Mutter wusch das Handtuch.",
        "it": "La madre ha lavato l'asciugamano.",
    }),
]


@pytest.mark.parametrize("meaning,expected", GOLDEN, ids=lambda x: getattr(x, "template", ""))
def test_golden_translations(meaning, expected):
    for lang, text in expected.items():
        assert RENDERERS[lang](meaning, LEX) == text


def test_korean_particles_follow_the_final_consonant():
    assert particle("책", "object") == "책을"
    assert particle("공", "subject") == "공이"
    assert particle("개", "subject") == "개가"
    assert particle("사과", "object") == "사과를"
    assert particle("소년", "topic") == "소년은"
    with pytest.raises(ValueError, match="not a Hangul syllable at the end of 'abc'"):
        particle("abc", "topic")


def test_verb_object_restrictions_are_respected(pools):
    # "opened" only takes things that open; no sentence opens an apple.
    for s in pools.train + pools.mt_train:
        assert not re.search(r"opened the (\w+ )?apple", s["en"])
