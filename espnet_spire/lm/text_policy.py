"""Keep unit tokens out of text: the text policy of the data builders.

Once the tokenizer knows one private-use character per speech unit, any such character inside a
*text* field (a transcript, a translation, a TowerBlocks turn, a monolingual line) would silently
become a speech-unit token and teach the model that text and speech are interchangeable. The same
holds for ``<extra_id_N>`` strings (the T5-style unit spelling) and for the ChatML markers, which
would break the turn structure and the loss mask of IT data. The policy therefore *rejects* such
text with an error naming the example; the data builders catch it, skip the example and list it
in their ``skipped`` file, so nothing is dropped silently.
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
        return out

    def check(self, text: str, example_id: str) -> str:
        """Return ``text`` unchanged, or raise :class:`TextPolicyError` for the first violation."""
        bad = self.violations(text)
        if bad:
            reason, detail = bad[0]
            raise TextPolicyError(example_id, reason, detail)
        return text
