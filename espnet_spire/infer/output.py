"""How ``spire-infer`` writes its results: plain text, JSON lines or a Kaldi ``text`` file."""

from __future__ import annotations

import json
from typing import IO, Sequence

from espnet_spire.infer.model import Output, Skipped

FORMATS = ("text", "jsonl", "kaldi")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def format_output(out: Output, fmt: str) -> str:
    """One line for one input.

    ``text``: the hypothesis (multi-turn ST: transcript, a tab, translation); ``kaldi``:
    ``id hypothesis``; ``jsonl``: id, source, task, text, transcript, windows, seconds.
    """
    if fmt == "jsonl":
        return json.dumps(out.__dict__, ensure_ascii=False)
    text = _one_line(out.text)
    if out.transcript is not None:
        text = f"{_one_line(out.transcript)}\t{text}"
    if fmt == "kaldi":
        return f"{out.id} {text}".rstrip(" ")
    if fmt == "text":
        return text
    raise ValueError(f"unknown output format {fmt!r}: use one of {', '.join(FORMATS)}")


def write_outputs(outputs: Sequence[Output], fmt: str, stream: IO[str]) -> None:
    """Write one line per output, in input order."""
    for out in outputs:
        stream.write(format_output(out, fmt) + "\n")


def skipped_report(skipped: Sequence[Skipped], total: int) -> str:
    """The closing list of inputs that gave no output (empty when none)."""
    if not skipped:
        return ""
    lines = [f"skipped {len(skipped)} of {total} inputs:"]
    lines += [f"  {s.id} ({s.source}): {s.reason}" for s in skipped]
    return "\n".join(lines)
