"""Text form of a :class:`~espnet_spire.plan.build.Plan`: the problem list, or the tables."""

from __future__ import annotations

from typing import List

from espnet_spire.plan.build import Plan
from espnet_spire.plan.estimates import GIB

COLUMNS = (("stage", "stage"), ("what", "what"), ("hours", "hours"), ("utts", "utts"), ("units", "DSUs"),
           ("tokens", "tokens"), ("disk", "disk GiB"), ("gpu_mem", "GPU mem/dev GiB"), ("gpu_hours", "GPU-hours"))


def _cell(key: str, value: object) -> str:
    if value is None:
        return "-"
    if key in ("disk", "gpu_mem"):
        return f"{float(value) / GIB:,.1f}"
    if key in ("hours", "gpu_hours"):
        return f"{float(value):,.1f}"
    if key in ("utts", "units", "tokens"):
        return f"{float(value):,.0f}"
    return str(value)


def render_problems(plan: Plan) -> str:
    """One list of every missing or invalid input."""
    lines = [f"Plan: {len(plan.problems)} problem(s) with the inputs; nothing was started:"]
    lines += [f"  - {p}" for p in plan.problems]
    return "\n".join(lines)


def render_plan(plan: Plan) -> str:
    """Data sets, per-stage table, GPU memory breakdown and the assumptions behind the numbers."""
    out: List[str] = ["Plan: every input is present.", "", "Data sets:"]
    for name, roles in plan.roles.items():
        named = "; " + " ".join(f"--{r}" for r in roles)
        if name in plan.data:
            s = plan.data[name]
            units = f", {s.units:,} units measured" if s.units is not None else ""
            out.append(f"  {name}: {s.utts:,} utterances, {s.hours:,.1f} h ({s.source}){units}{named}")
        elif name in plan.text:
            t = plan.text[name]
            lines = f"{t.lines:,} lines, " if t.lines is not None else ""
            out.append(f"  {name}: text {lines}{sum(t.bytes.values()):,} bytes "
                       f"(text.tc.{{{','.join(t.langs)}}}){named}")
    out += ["", "Per stage:"]
    table = [[title for _, title in COLUMNS]]
    table += [[_cell(key, row.get(key)) for key, _ in COLUMNS] for row in plan.rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(COLUMNS))]
    for i, r in enumerate(table):
        out.append("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")
        if i == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for key, mem in plan.memory.items():
        out.append(f"\nGPU memory per device, {key.upper()} (GiB): weights {mem.weights / GIB:.1f}, "
                   f"grads {mem.grads / GIB:.1f}, optimizer {mem.optimizer / GIB:.1f}, activations "
                   f"{mem.activations / GIB:.1f}, logits {mem.logits / GIB:.1f}, total {mem.total / GIB:.1f}")
    out += ["", "Notes and assumptions:"] + [f"  - {n}" for n in plan.notes]
    return "\n".join(out)
