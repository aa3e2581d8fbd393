"""SPIRE prompt strings, the TowerInstruct chat template, and the CPT text formats.

Everything here is pure string work so it can be tested byte for byte against the compat vectors
(``spirelm-compat.md`` §10, vectors 12-17).

Newline convention
    The released code renders speech prompts as ``Speech: {units}\\nEnglish:`` (newline, no
    space; HEAD templates, IT data builders). The paper-era evaluation used ``\\n English:``
    (newline + space). Which one SpireFull was trained with is not recorded, so the separator is
    the ``newline`` option of :class:`PromptStyle`: ``"\\n"`` (default) or ``"\\n "``
    (``PromptStyle.paper_era()``). MT prompts always use ``"\\n"``.

Bug B1 is never reproduced
    HEAD ``build_instructions.py`` formats unstripped file lines and so emits an extra ``\\n``
    after the units or the MT source. Every builder here strips its inputs and rejects inputs
    that still contain a line break, so ``\\n\\n`` can only appear if a caller asks for it.

CPT formats (paper Table 10)
    ``Speech:<units> English: {TRANSCRIPT}`` and ``{Src}: {source} {Tgt}: {TRANSLATION}``. The
    paper prints them flattened; the separators are :class:`CptFormat` fields and are recorded
    in the CPT ``stats.json``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Sequence

from espnet_spire.lm.languages import lang_name

#: TowerInstruct/SPIRE ChatML template (SpireLM ``TOWER_INSTRUCT_CHAT_TEMPLATE``, spec §4.1).
#: Every message is closed with ``<|im_end|>\n`` except the last one when no generation prompt is
#: requested (an open last turn, for prefix forcing); no system prompt, no BOS.
TOWER_INSTRUCT_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content']}}"
    "{% if (loop.last and add_generation_prompt) or not loop.last %}"
    "{{ '<|im_end|>' + '\\n'}}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt and messages[-1]['role'] != 'assistant' %}"
    "{{ '<|im_start|>assistant\\n' }}"
    "{% endif %}"
)
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"

Message = Dict[str, str]


@dataclass(frozen=True)
class PromptStyle:
    """Formatting choices of speech prompts (see the module docstring)."""

    newline: str = "\n"  # between the units and the language tag: "\n" (HEAD) or "\n " (paper era)
    speech_prefix: str = "Speech: "
    cpt: bool = False  # base (non-instruct) models: prompt in the CPT format they were trained on

    @property
    def name(self) -> Optional[str]:
        """The :meth:`from_name` name of this style (None for a custom speech prefix)."""
        if self.cpt:
            return "cpt"
        if self.speech_prefix != "Speech: ":
            return None
        return {"\n": "head", "\n ": "paper"}.get(self.newline)

    @classmethod
    def paper_era(cls) -> "PromptStyle":
        """The ``\\n English:`` spacing of SpireLM's paper-era evaluation templates."""
        return cls(newline="\n ")

    @classmethod
    def from_name(cls, name: str) -> "PromptStyle":
        """``head`` (default, ``\\n``) or ``paper`` (``\\n ``); used by the CLIs."""
        if name == "head":
            return cls()
        if name == "paper":
            return cls.paper_era()
        if name == "cpt":  # base models: the CPT format (Table 10) up to the answer
            return cls(cpt=True)
        raise ValueError(f"unknown prompt style {name!r}; choose 'head', 'paper' or 'cpt'")


def _clean(value: str, what: str) -> str:
    """Strip a field and refuse embedded line breaks (they would shift the prompt layout, B1)."""
    value = value.strip()
    if "\n" in value or "\r" in value:
        raise ValueError(f"{what} contains a line break: {value[:60]!r}")
    return value


def asr_prompt(dsus: str, style: PromptStyle = PromptStyle()) -> str:
    """``Speech: {units}\\nEnglish:`` (compat vector 12)."""
    return f"{style.speech_prefix}{_clean(dsus, 'units')}{style.newline}English:"


def st_prompt(dsus: str, tgt_lang: str, style: PromptStyle = PromptStyle()) -> str:
    """Direct ST: ``Speech: {units}\\n{Target}:`` (compat vector 13)."""
    return f"{style.speech_prefix}{_clean(dsus, 'units')}{style.newline}{lang_name(tgt_lang)}:"


def mt_prompt(source: str, src_lang: str, tgt_lang: str) -> str:
    """Zero-shot MT (compat vector 14): instruction, source line, target tag."""
    s, t = lang_name(src_lang), lang_name(tgt_lang)
    return f"Translate the following text from {s} to {t}.\n{s}: {_clean(source, 'MT source')}\n{t}:"


def multiturn_st_messages(
    dsus: str,
    transcript: str,
    tgt_lang: str,
    translation: Optional[str] = None,
    style: PromptStyle = PromptStyle(),
) -> List[Message]:
    """Transcribe-then-translate chat (spec §4.3): user ASR turn, assistant transcript, user ``{Tgt}:``.

    With ``translation`` the assistant answer is appended (training); without it the conversation
    ends on the user turn and is rendered with a generation prompt (decoding, vector 15).
    """
    msgs = [
        {"role": "user", "content": asr_prompt(dsus, style)},
        {"role": "assistant", "content": _clean(transcript, "transcript")},
        {"role": "user", "content": f"{lang_name(tgt_lang)}:"},
    ]
    if translation is not None:
        msgs.append({"role": "assistant", "content": _clean(translation, "translation")})
    return msgs


def render_chat(messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
    """Python twin of :data:`TOWER_INSTRUCT_CHAT_TEMPLATE` (tests check they agree)."""
    if not messages:
        raise ValueError("a conversation needs at least one message")
    parts = []
    last = len(messages) - 1
    for i, m in enumerate(messages):
        parts.append(f"{IM_START}{m['role']}\n{m['content']}")
        if i != last or add_generation_prompt:
            parts.append(f"{IM_END}\n")
    if add_generation_prompt and messages[-1]["role"] != "assistant":
        parts.append(f"{IM_START}assistant\n")
    return "".join(parts)


def user_turn(prompt: str) -> List[Message]:
    """A one-message conversation (the usual inference input)."""
    return [{"role": "user", "content": prompt}]


# ------------------------------------------------------------------ IT data lines (vector 17)

_ROLE_TO_SHAREGPT = {"user": "human", "assistant": "gpt", "system": "system"}
_SHAREGPT_TO_ROLE = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}


def to_sharegpt(messages: Sequence[Message]) -> Dict[str, List[Dict[str, str]]]:
    """``{"conversations": [{"from": "human", "value": ...}, ...]}`` (key order as SpireLM)."""
    return {"conversations": [{"from": _ROLE_TO_SHAREGPT[m["role"]], "value": m["content"]} for m in messages]}


def from_sharegpt(record: Dict) -> List[Message]:
    """Inverse of :func:`to_sharegpt`; accepts TowerBlocks-style ``from``/``value`` turns."""
    out = []
    for turn in record["conversations"]:
        role = _SHAREGPT_TO_ROLE.get(turn["from"])
        if role is None:
            raise ValueError(f"unknown speaker {turn['from']!r} in a conversation")
        out.append({"role": role, "content": turn["value"]})
    return out


def conversation_problem(messages: Sequence[Message]) -> Optional[str]:
    """Why a conversation cannot be trained on (None when it can): IT needs non-empty turns and a
    final assistant turn; corpus preparation and stage 10 apply the same test."""
    if not messages or messages[-1]["role"] != "assistant" or any(not m["content"].strip() for m in messages):
        return "empty turn or no final assistant turn"
    return None


def it_data_line(messages: Sequence[Message]) -> str:
    """One JSONL line exactly as ``build_dsu_training.make_instruction`` writes it (vector 17)."""
    return json.dumps(to_sharegpt(messages), ensure_ascii=False)


# ------------------------------------------------------------------ CPT formats (Table 10)


@dataclass(frozen=True)
class CptFormat:
    """Separators of the flattened CPT strings; recorded in the CPT ``stats.json``.

    Defaults follow the paper's Table 10 literally: ``Speech:<units> English: {T}`` (no space
    before the units, one space between fields) and ``{S}: {src} {T}: {tgt}``.
    """

    speech_prefix: str = "Speech:"
    unit_sep: str = ""  # between "Speech:" and the units
    field_sep: str = " "  # between the units (or the MT source) and the next language tag
    answer_sep: str = " "  # between a language tag's colon and its text

    def to_dict(self) -> Dict[str, str]:
        """Plain dict for JSON records."""
        return asdict(self)


def cpt_asr_text(dsus: str, transcript: str, fmt: CptFormat = CptFormat()) -> str:
    """``Speech:<units> English: {TRANSCRIPT}``."""
    d = _clean(dsus, "units")
    t = _clean(transcript, "transcript")
    return f"{fmt.speech_prefix}{fmt.unit_sep}{d}{fmt.field_sep}English:{fmt.answer_sep}{t}"


def cpt_prompt(source: str, src_lang: str, tgt_lang: str, speech: bool,
               fmt: CptFormat = CptFormat()) -> str:
    """The CPT format up to the answer (``Speech:<units> English:``, ``English: {src} German:``),
    so that a base model that only saw CPT data is prompted the way it was trained."""
    if speech:
        d = _clean(source, "units")
        return f"{fmt.speech_prefix}{fmt.unit_sep}{d}{fmt.field_sep}{lang_name(tgt_lang)}:"
    s = _clean(source, "MT source")
    return f"{lang_name(src_lang)}:{fmt.answer_sep}{s}{fmt.field_sep}{lang_name(tgt_lang)}:"


def cpt_mt_text(source: str, translation: str, src_lang: str, tgt_lang: str, fmt: CptFormat = CptFormat()) -> str:
    """``{Source_lang}: {source} {Target_lang}: {TRANSLATION}``."""
    s = _clean(source, "MT source")
    t = _clean(translation, "MT target")
    return f"{lang_name(src_lang)}:{fmt.answer_sep}{s}{fmt.field_sep}{lang_name(tgt_lang)}:{fmt.answer_sep}{t}"
