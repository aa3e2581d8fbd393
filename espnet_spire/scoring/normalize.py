"""Text normalisers applied to hypotheses *and* references before WER/CER (SPIRE: Whisper's).

``whisper``: whisper-normalizer's ``EnglishTextNormalizer`` (SpireLM pins whisper-normalizer
0.1.12; spelling UK->US, numbers, fillers removed).  ``basic``: ``BasicTextNormalizer``
(lower-case, symbols removed, language independent).  ``none``: the text as it is.
Whitespace is collapsed afterwards by the tokenisers (see :func:`espnet_spire.scoring.wer.tokenize`).
"""

from __future__ import annotations

from typing import Callable, Dict, Tuple

Normalizer = Callable[[str], str]

#: accepted names -> canonical name
_ALIASES: Dict[str, str] = {
    "whisper": "whisper",
    "english": "whisper",
    "whisper_english": "whisper",
    "basic": "basic",
    "whisper_basic": "basic",
    "none": "none",
}

NORMALIZER_CHOICES: Tuple[str, ...] = tuple(sorted(_ALIASES))


def canonical_name(name: str) -> str:
    """``whisper``, ``basic`` or ``none``; unknown names raise ``ValueError``."""
    try:
        return _ALIASES[name.lower()]
    except KeyError:
        raise ValueError(
            f"unknown text normaliser {name!r}; choose one of {', '.join(NORMALIZER_CHOICES)}"
        ) from None


def get_normalizer(name: str = "whisper") -> Normalizer:
    """Return the normaliser function for ``name`` (see the module docstring)."""
    canon = canonical_name(name)
    if canon == "none":
        return lambda s: s
    if canon == "basic":
        from whisper_normalizer.basic import BasicTextNormalizer

        return BasicTextNormalizer()
    from whisper_normalizer.english import EnglishTextNormalizer

    return EnglishTextNormalizer()


def describe(name: str) -> str:
    """Human-readable description with the package version (for result files and RESULTS.md)."""
    canon = canonical_name(name)
    if canon == "none":
        return "none (text as is)"
    try:
        from importlib.metadata import version

        ver = version("whisper-normalizer")
    except Exception:  # pragma: no cover - package metadata missing
        ver = "unknown"
    cls = "EnglishTextNormalizer" if canon == "whisper" else "BasicTextNormalizer"
    return f"{canon} (whisper-normalizer {ver} {cls})"
