"""Language codes and the English names SPIRE prompts use (``languages_spire.tconf``).

Prompts name languages in English ("German:"), so every stage that renders a prompt needs the same
code -> name table; keeping it in one place avoids "Chinese" vs "Mandarin" drift between CPT, IT
and decoding.
"""

from __future__ import annotations

from typing import Dict

#: ESPnet-ST / CoVoST style codes of the SPIRE languages -> the names used in prompts.
LANG_NAMES: Dict[str, str] = {
    "en": "English",
    "de": "German",
    "es": "Spanish",
    "fr": "French",
    "it": "Italian",
    "ko": "Korean",
    "nl": "Dutch",
    "pt": "Portuguese",
    "ru": "Russian",
    "zh": "Chinese",
    # Present in SpireLM's HEAD template list, not in the paper's ten languages.
    "ar": "Arabic",
    "cs": "Czech",
    "ja": "Japanese",
}

#: The nine direct-ST target languages of the paper (en -> xx).
ST_TARGETS = ("de", "es", "fr", "it", "ko", "nl", "pt", "ru", "zh")

#: FLORES-200 codes (evaluation sets); SONAR uses zho_Hans for zh.
FLORES_CODES: Dict[str, str] = {
    "en": "eng_Latn",
    "de": "deu_Latn",
    "es": "spa_Latn",
    "fr": "fra_Latn",
    "it": "ita_Latn",
    "ko": "kor_Hang",
    "nl": "nld_Latn",
    "pt": "por_Latn",
    "ru": "rus_Cyrl",
    "zh": "cmn_Hans",
}

_ALIASES = {"zh-CN": "zh", "zh_cn": "zh", "zh-cn": "zh"}


def normalize_code(code: str) -> str:
    """Map aliases such as CoVoST's ``zh-CN`` to the short code used everywhere else."""
    return _ALIASES.get(code, code)


def lang_name(code: str) -> str:
    """English name of a language code; unknown codes raise, so a typo never reaches a prompt."""
    code = normalize_code(code)
    try:
        return LANG_NAMES[code]
    except KeyError:
        raise ValueError(
            f"unknown language code {code!r}; known: {' '.join(sorted(LANG_NAMES))}"
        ) from None
