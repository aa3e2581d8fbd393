"""Keep unit tokens out of text: the text policy of the data builders.

Once the tokenizer knows one private-use character per speech unit, any such character inside a
*text* field (a transcript, a translation, a TowerBlocks turn, a monolingual line) would silently
become a speech-unit token and teach the model that text and speech are interchangeable. The same
holds for ``<extra_id_N>`` strings (the T5-style unit spelling) and for the ChatML markers, which
would break the turn structure and the loss mask of IT data. The policy therefore *rejects* such
text with an error naming the example; the data builders catch it, skip the example and list it
in their ``skipped`` file, so nothing is dropped silently.

**Special tokens** (issue #15): the tokenizer matches its special and added tokens (``<s>``
``</s>`` ``<unk>``, SPIRE's ``<CLS> <EOD> <MASK> <PAD> <SEP>``, ...) literally anywhere in the
text, so ``</s>`` inside a transcript would become an EOS id mid-document and ``<unk>`` the
unknown id. :meth:`TextPolicy.for_tokenizer` adds every such string (reason ``special_token``).
The example is refused, not escaped or stripped: in the paper's spirit the data are clean
pairs, and a transcript with ``<unk>`` (common in real corpora) does not say what was spoken, so
an ASR pair built from it teaches the model to drop a word; a translation with a markup token is
no cleaner. Refusing keeps every surviving document exact, and ``skipped`` counts the loss.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

from espnet_spire.units.dsu_format import PUA_MAX_INDEX, PUA_OFFSET

EXTRA_ID_RE = re.compile(r"<extra_id_\d+>")
DEFAULT_FORBIDDEN_STRINGS: Tuple[str, ...] = ("<|im_start|>", "<|im_end|>")


class TextPolicyError(ValueError):
    """A text field would produce unit (or chat-control) tokens; names the example and the reason."""

    def __init__(self, example_id: str, reason: str, detail: str) -> None:
        self.example_id = example_id
        self.reason = reason
        self.detail = detail
        super().__init__(f"example {example_id!r}: {reason}: {detail}")


@dataclass
class TextPolicy:
    """What a text field may not contain.

    ``num_units`` = K limits the rejected private-use range to the characters that are unit tokens
    (U+F0000 .. U+F0000+K-1); ``None`` rejects the whole Supplementary Private Use Area-A, which
    is the safe choice when K is unknown.
    """

    num_units: Optional[int] = None
    reject_extra_id: bool = True
    forbidden_strings: Sequence[str] = field(default_factory=lambda: DEFAULT_FORBIDDEN_STRINGS)
    special_tokens: Sequence[str] = ()

    @classmethod
    def for_tokenizer(cls, tokenizer, num_units: Optional[int] = None) -> "TextPolicy":
        """The default policy plus the special and added tokens of ``tokenizer``."""
        return cls(num_units=num_units, special_tokens=special_token_strings(tokenizer))

    def unit_range(self) -> Tuple[int, int]:
        """Half-open code point range ``[lo, hi)`` of characters that are unit tokens."""
        last = PUA_MAX_INDEX if self.num_units is None else self.num_units - 1
        return PUA_OFFSET, PUA_OFFSET + last + 1

    def violations(self, text: str) -> List[Tuple[str, str]]:
        """All ``(reason, detail)`` pairs for ``text``; empty when the text is acceptable."""
        out: List[Tuple[str, str]] = []
        lo, hi = self.unit_range()
        units = [ch for ch in text if lo <= ord(ch) < hi]
        if units:
            shown = ", ".join(f"U+{ord(c):05X}" for c in units[:5])
            more = f" and {len(units) - 5} more" if len(units) > 5 else ""
            out.append(("unit_chars_in_text", f"{len(units)} unit character(s) ({shown}{more})"))
        if self.reject_extra_id:
            found = EXTRA_ID_RE.findall(text)
            if found:
                out.append(("extra_id_in_text", f"{len(found)} <extra_id_N> string(s), first {found[0]}"))
        for s in self.forbidden_strings:
            if s in text:
                out.append(("control_string_in_text", f"contains {s!r}"))
        found = [s for s in self.special_tokens if s in text and s not in self.forbidden_strings]
        if found:
            out.append(("special_token", f"contains {', '.join(found)} (special/added token(s) of the tokenizer)"))
        return out

    def check(self, text: str, example_id: str) -> str:
        """Return ``text`` unchanged, or raise :class:`TextPolicyError` for the first violation."""
        bad = self.violations(text)
        if bad:
            reason, detail = bad[0]
            raise TextPolicyError(example_id, reason, detail)
        return text


def _is_unit_string(text: str) -> bool:
    return all(PUA_OFFSET <= ord(ch) <= PUA_OFFSET + PUA_MAX_INDEX for ch in text)


def special_token_strings(tokenizer) -> Tuple[str, ...]:
    """Every string ``tokenizer`` maps to one special or added id wherever it appears in text
    (``all_special_tokens`` and the added-token table), unit characters left out (the unit check
    covers them), sorted."""
    found = {str(t) for t in getattr(tokenizer, "all_special_tokens", [])}
    found.update(str(t.content) for t in getattr(tokenizer, "added_tokens_decoder", {}).values())
    return tuple(sorted(s for s in found if s and not _is_unit_string(s)))
