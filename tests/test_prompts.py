"""Prompt strings byte for byte against compat vectors 12-17, plus the CPT formats (Table 10)."""

import json

import jinja2
import pytest

from espnet_spire.lm import prompts as P
from espnet_spire.lm.languages import LANG_NAMES, ST_TARGETS, lang_name
from espnet_spire.units.dsu_format import indices2dsus

D = indices2dsus([0, 17])  # "\U000f0000\U000f0011"


def jinja_render(messages, add_generation_prompt):
    """Render the template string itself, as the HF tokenizer does (jinja2)."""
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    return env.from_string(P.TOWER_INSTRUCT_CHAT_TEMPLATE).render(
        messages=messages, add_generation_prompt=add_generation_prompt)


def chat(prompt):
    return P.render_chat(P.user_turn(prompt), add_generation_prompt=True)


def test_vector_12_asr():
    assert D == "\U000f0000\U000f0011"
    assert chat(P.asr_prompt(D)) == (
        "<|im_start|>user\nSpeech: \U000f0000\U000f0011\nEnglish:<|im_end|>\n<|im_start|>assistant\n")
    # paper-era spacing is an option
    assert P.asr_prompt(D, P.PromptStyle.paper_era()) == "Speech: \U000f0000\U000f0011\n English:"
    assert P.asr_prompt(D, P.PromptStyle.from_name("paper")) == "Speech: \U000f0000\U000f0011\n English:"


def test_vector_12_bug_b1_never_reproduced():
    # a raw file line with its newline must not give "\n\nEnglish:" (HEAD's B1)
    p = chat(P.asr_prompt(D + "\n"))
    assert "\n\n" not in p
    assert p == chat(P.asr_prompt(D))
    assert "\n\n" not in P.mt_prompt("Hello world.\n", "en", "de")
    with pytest.raises(ValueError, match="units contains a line break"):
        P.asr_prompt(D + "\nEnglish:")  # embedded line breaks are refused


def test_vector_12_jsonl_encoding():
    line = json.dumps({"instruction": chat(P.asr_prompt(D))}, ensure_ascii=False)
    assert "\\n" in line and "\n" not in line
    assert "\U000f0000".encode("utf-8") in line.encode("utf-8")


def test_vector_13_direct_st_all_languages():
    assert chat(P.st_prompt(D, "de")) == (
        "<|im_start|>user\nSpeech: \U000f0000\U000f0011\nGerman:<|im_end|>\n<|im_start|>assistant\n")
    assert P.st_prompt(D, "de", P.PromptStyle.paper_era()) == "Speech: \U000f0000\U000f0011\n German:"
    names = {"de": "German", "es": "Spanish", "fr": "French", "it": "Italian", "ko": "Korean",
             "nl": "Dutch", "pt": "Portuguese", "ru": "Russian", "zh": "Chinese"}
    assert set(ST_TARGETS) == set(names)
    for code, name in names.items():
        assert P.st_prompt(D, code) == f"Speech: {D}\n{name}:"
        assert lang_name(code) == name == LANG_NAMES[code]
    assert lang_name("zh-CN") == "Chinese"
    with pytest.raises(ValueError, match="unknown language code 'xx'"):
        lang_name("xx")


def test_vector_14_mt():
    assert chat(P.mt_prompt("Hello world.", "en", "de")) == (
        "<|im_start|>user\nTranslate the following text from English to German.\nEnglish: Hello world.\n"
        "German:<|im_end|>\n<|im_start|>assistant\n")
    assert P.mt_prompt("Hallo Welt.", "de", "en") == (
        "Translate the following text from German to English.\nGerman: Hallo Welt.\nEnglish:")


def test_vector_15_multiturn_st():
    msgs = P.multiturn_st_messages(D, "hello world", "de")
    assert P.render_chat(msgs, add_generation_prompt=True) == (
        "<|im_start|>user\nSpeech: \U000f0000\U000f0011\nEnglish:<|im_end|>\n<|im_start|>assistant\n"
        "hello world<|im_end|>\n<|im_start|>user\nGerman:<|im_end|>\n<|im_start|>assistant\n")
    train = P.multiturn_st_messages(D, "hello world", "de", "Hallo Welt")
    assert [m["role"] for m in train] == ["user", "assistant", "user", "assistant"]


def test_vector_16_open_last_turn():
    msgs = [{"role": "user", "content": "P"}, {"role": "assistant", "content": "A"}]
    assert P.render_chat(msgs, add_generation_prompt=False) == "<|im_start|>user\nP<|im_end|>\n<|im_start|>assistant\nA"
    assert P.render_chat(msgs, add_generation_prompt=True) == (
        "<|im_start|>user\nP<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n")


@pytest.mark.parametrize("roles", [["user"], ["user", "assistant"], ["user", "assistant", "user"],
                                   ["system", "user", "assistant"], ["user", "assistant", "user", "assistant"]])
@pytest.mark.parametrize("gen", [True, False])
def test_template_string_matches_python_renderer(roles, gen):
    msgs = [{"role": r, "content": f"{r} text {i}\nline"} for i, r in enumerate(roles)]
    assert jinja_render(msgs, gen) == P.render_chat(msgs, gen)


def test_vector_17_it_data_line():
    msgs = [{"role": "user", "content": P.asr_prompt(indices2dsus([0, 4999]))},
            {"role": "assistant", "content": "hello world"}]
    assert P.it_data_line(msgs) == (
        '{"conversations": [{"from": "human", "value": "Speech: \U000f0000\U000f1387\\nEnglish:"}, '
        '{"from": "gpt", "value": "hello world"}]}')
    assert P.from_sharegpt(json.loads(P.it_data_line(msgs))) == msgs


def test_cpt_formats_table_10():
    assert P.cpt_asr_text(D, "hello world") == "Speech:\U000f0000\U000f0011 English: hello world"
    assert P.cpt_mt_text("Hello.", "Hallo.", "en", "de") == "English: Hello. German: Hallo."
    fmt = P.CptFormat(unit_sep=" ", field_sep="\n")
    assert P.cpt_asr_text(D, "hi", fmt) == "Speech: \U000f0000\U000f0011\nEnglish: hi"
    assert P.cpt_mt_text("a", "b", "de", "en", fmt) == "German: a\nEnglish: b"
    assert fmt.to_dict() == {"speech_prefix": "Speech:", "unit_sep": " ", "field_sep": "\n", "answer_sep": " "}


def test_cpt_prompts_for_base_models_stop_where_the_answer_starts():
    from espnet_spire.lm.decode import Task, build_messages
    from espnet_spire.lm.prompts import CptFormat, PromptStyle, cpt_asr_text, cpt_mt_text, cpt_prompt

    d = "\U000f0000\U000f0011"
    assert cpt_prompt(d, "en", "en", speech=True) == "Speech:\U000f0000\U000f0011 English:"
    assert cpt_prompt("Hello world.", "en", "de", speech=False) == "English: Hello world. German:"
    # the training strings are the prompt plus " {answer}"
    assert cpt_asr_text(d, "hi") == cpt_prompt(d, "en", "en", True) + " hi"
    assert cpt_mt_text("a", "b", "en", "de") == cpt_prompt("a", "en", "de", False) + " b"
    style = PromptStyle.from_name("cpt")
    assert build_messages(Task("st", "en", "de"), d, style)[0]["content"] == "Speech:" + d + " German:"
    with pytest.raises(ValueError, match="multi-turn ST needs an instruct model"):
        build_messages(Task("multiturn_st", "en", "de"), d, style, "hi")
    assert CptFormat().field_sep == " "
