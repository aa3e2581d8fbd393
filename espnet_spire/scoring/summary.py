"""The side-by-side table at the top of RESULTS.md: one row per system, one column per task family.

The per-model tables list 28 tasks each; comparing SpireFull with its ablations and with the base
LLM needs averages: ASR WER, ST BLEU over the target languages, multi-turn ST, MT out of and into
English, and MT quality relative to the base model (the paper's "text quality kept" claim).
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Sequence, Tuple

#: (family, column title, metric, how task names of the family look)
FAMILIES: List[Tuple[str, str, str, "re.Pattern[str]"]] = [
    ("asr", "ASR WER", "wer", re.compile(r"^asr$")),
    ("st", "ST BLEU", "bleu", re.compile(r"^st_[a-z]+$")),
    ("multiturn_st", "multi-turn ST BLEU", "bleu", re.compile(r"^multiturn_st_[a-z]+$")),
    ("mt_out", "MT en-xx BLEU", "bleu", re.compile(r"^mt_en_[a-z]+$")),
    ("mt_in", "MT xx-en BLEU", "bleu", re.compile(r"^mt_[a-z]+_en$")),
]
_COMET = [("st", "ST COMET"), ("mt_out", "MT en-xx COMET"), ("mt_in", "MT xx-en COMET")]

#: rows in the paper's order; other systems follow alphabetically
ORDER = ["base", "copy_transcript", "towerfull", "spirebase", "spirefull", "spirenoblocks",
         "noblocks", "spirenopseudo", "nopseudo"]


def family_of(task: str) -> Optional[str]:
    for name, _, _, pattern in FAMILIES:
        if pattern.match(task):
            return name
    return None


def _mean(values: Sequence[float]) -> Optional[float]:
    return sum(values) / len(values) if values else None


def _row_key(label: str) -> Tuple[int, str]:
    last = label.split("/")[-1].split(" ")[0]
    return (ORDER.index(last) if last in ORDER else len(ORDER), label)


def summary_lines(entries: Sequence, test_set: str) -> List[str]:
    """Markdown lines of the summary of one test set (``entries``: results.Entry objects)."""
    rows: Dict[str, Dict[str, Dict[str, List[float]]]] = {}
    decodes_per_model: Dict[str, set] = {}
    for e in entries:
        if e.test_set == test_set:
            decodes_per_model.setdefault(e.model, set()).add(e.decode)
    for e in entries:
        if e.test_set != test_set:
            continue
        fam = family_of(e.task)
        if fam is None:
            continue
        label = e.model if len(decodes_per_model[e.model]) == 1 else f"{e.model} ({e.decode})"
        m = e.scores.get("metrics", {})
        for metric in ("wer", "bleu", "comet"):
            if m.get(metric) is not None:
                rows.setdefault(label, {}).setdefault(fam, {}).setdefault(metric, []).append(float(m[metric]))
    if not rows:
        return []

    columns: List[Tuple[str, str, str]] = []  # (family, title, metric)
    for fam, title, metric, _ in FAMILIES:
        if any(metric in r.get(fam, {}) for r in rows.values()):
            columns.append((fam, title, metric))
    for fam, title in _COMET:
        if any("comet" in r.get(fam, {}) for r in rows.values()):
            columns.append((fam, title, "comet"))
    n_full = {(f, m): max(len(r.get(f, {}).get(m, [])) for r in rows.values()) for f, _, m in columns}

    def mt_mean(r: Dict[str, Dict[str, List[float]]]) -> Optional[float]:
        vals = r.get("mt_out", {}).get("bleu", []) + r.get("mt_in", {}).get("bleu", [])
        return _mean(vals)

    base_label = next((lab for lab in rows if lab.split("/")[-1] == "base"), None)
    base_mt = mt_mean(rows[base_label]) if base_label else None
    show_rel = base_mt is not None and base_mt > 0

    head = ["system"] + [f"{t} ({n_full[(f, m)]})" for f, t, m in columns]
    if show_rel:
        head.append("MT BLEU % of base")
    out = [f"### {test_set}", "", "|" + "|".join(head) + "|", "|" + "|".join(["---"] * len(head)) + "|"]
    partial = False
    for label in sorted(rows, key=_row_key):
        r = rows[label]
        cells = [label]
        for f, _, m in columns:
            vals = r.get(f, {}).get(m, [])
            if not vals:
                cells.append("-")
                continue
            v = _mean(vals) * (100.0 if m == "comet" else 1.0)
            cell = f"{v:.1f}" if m != "comet" else f"{v:.2f}"
            if len(vals) < n_full[(f, m)]:
                cell += f" ({len(vals)})"
                partial = True
            cells.append(cell)
        if show_rel:
            mine = mt_mean(r)
            cells.append("-" if mine is None else f"{100.0 * mine / base_mt:.1f}")
        out.append("|" + "|".join(cells) + "|")
    out.append("")
    out.append("Averages over the tasks of each family (their number in brackets); WER in %, "
               "BLEU as in the per-model tables.")
    if partial:
        out.append("A number in brackets after a value: that system has fewer tasks of the family.")
    if show_rel:
        out.append("MT BLEU % of base: the mean BLEU over both MT directions relative to the base LLM's.")
    out.append("")
    return out


def summary_section(entries: Sequence) -> List[str]:
    """The ``## Summary`` section: one table per test set."""
    test_sets = sorted({e.test_set for e in entries})
    body: List[str] = []
    for ts in test_sets:
        body += summary_lines(entries, ts)
    return ["## Summary", ""] + body if body else []
