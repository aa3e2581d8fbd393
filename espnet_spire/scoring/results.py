"""RESULTS.md from scored decode directories (spire.sh stage 13), in ESPnet's results style.

Collects every ``scores.json`` written by :mod:`espnet_spire.scoring.decode_dir`:

- models: ``<exp>/<model>/<decode_tag>/<test_set>/<task>/scores.json`` (deeper model paths work:
  everything before the last three parts names the model);
- other systems (``--external NAME=DIR``): ``DIR/<test_set>/<task>/scores.json`` or
  ``DIR/<decode_tag>/<test_set>/<task>/scores.json``, shown as model ``NAME``.

The file starts with an environment header (date, python/torch/transformers/espnet/espnet_spire
versions, git hash), then per model a table of every test set and task with WER, CER, BLEU,
spBLEU, chrF and COMET where available, preceded by a side-by-side summary of all systems
(:mod:`espnet_spire.scoring.summary`), sclite-style WER/CER detail tables, and the metric
signatures and normaliser used.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from espnet_spire.common.fileio import PathLike
from espnet_spire.scoring.summary import summary_section

#: (key in scores.json "metrics", column title, formatter)
COLUMNS: List[Tuple[str, str, str]] = [
    ("wer", "WER", "{:.1f}"),
    ("cer", "CER", "{:.1f}"),
    ("bleu", "BLEU", "{:.1f}"),
    ("spbleu", "spBLEU", "{:.1f}"),
    ("chrf", "chrF", "{:.1f}"),
    ("comet", "COMET", "{:.2f}"),
    ("cometkiwi", "CometKiwi", "{:.2f}"),
]
_X100 = {"comet", "cometkiwi"}  # shown x100, as in the SPIRE paper


@dataclass
class Entry:
    model: str
    decode: str
    test_set: str
    task: str
    path: Path
    scores: Dict


def _read(path: Path) -> Dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def collect(exp_dir: Optional[PathLike], externals: Sequence[Tuple[str, PathLike]] = (),
            decode_dirs: Optional[Sequence[PathLike]] = None) -> List[Entry]:
    """All scored decode dirs of ``exp_dir`` (only those under ``decode_dirs`` when given: the
    recipe lists this run's, so that decode dirs of earlier settings are left out) and of the
    external systems."""
    entries: List[Entry] = []
    wanted = None if decode_dirs is None else [Path(d).resolve() for d in decode_dirs]
    if exp_dir is not None and Path(exp_dir).is_dir():
        root = Path(exp_dir)
        for p in sorted(root.rglob("scores.json")):
            rel = p.parent.relative_to(root).parts
            if len(rel) < 4:
                continue
            if wanted is not None and not any(d in p.resolve().parents for d in wanted):
                continue
            model = "/".join(rel[:-3])
            if any(Path(ext).resolve() in p.resolve().parents for _, ext in externals):
                continue  # an external system stored under exp/ is listed under its own name
            entries.append(Entry(f"{Path(exp_dir).name}/{model}", rel[-3], rel[-2], rel[-1], p, _read(p)))
    for name, d in externals:
        root = Path(d)
        if not root.is_dir():
            raise FileNotFoundError(f"--external {name}={d}: no such directory")
        found = sorted(root.rglob("scores.json"))
        if not found:
            raise FileNotFoundError(
                f"--external {name}={d}: no scores.json (score the outputs first with "
                "espnet_spire.bin.score_decode_dir --hyp FILE --hyp_dir DIR/<test_set>/<task>)"
            )
        for p in found:
            rel = p.parent.relative_to(root).parts
            if len(rel) == 2:
                decode, test_set, task = "-", rel[0], rel[1]
            elif len(rel) >= 3:
                decode, test_set, task = "/".join(rel[:-2]), rel[-2], rel[-1]
            else:
                continue
            entries.append(Entry(name, decode, test_set, task, p, _read(p)))
    return entries


# ------------------------------------------------------------------ environment header


def _version(dist: str) -> str:
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:
        return "not installed"


def _git(args: List[str], cwd: Path) -> Optional[str]:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=20)
    except Exception:
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


def environment(git_dir: Optional[PathLike] = None) -> Dict[str, str]:
    """Date, versions and git hash (of ``git_dir``, default: the espnet_spire source tree)."""
    import espnet_spire

    gd = Path(git_dir) if git_dir else Path(__file__).resolve().parents[2]
    return {
        "date": datetime.datetime.now().astimezone().strftime("%a %b %d %H:%M:%S %Z %Y"),
        "python": " ".join(sys.version.split()),
        "espnet": _version("espnet"),
        "espnet_spire": getattr(espnet_spire, "__version__", _version("espnet_spire")),
        "torch": _version("torch"),
        "transformers": _version("transformers"),
        "sacrebleu": _version("sacrebleu"),
        "whisper-normalizer": _version("whisper-normalizer"),
        "git_hash": _git(["rev-parse", "HEAD"], gd) or "unknown",
        "git_date": _git(["log", "-1", "--format=%cd"], gd) or "unknown",
        "git_dirty": "yes" if _git(["status", "--porcelain", "--untracked-files=no"], gd) else "no",
    }


# ------------------------------------------------------------------ markdown


def _fmt(key: str, value) -> str:
    if value is None:
        return "-"
    fmt = dict((k, f) for k, _, f in COLUMNS)[key]
    v = 100.0 * value if key in _X100 else value
    return fmt.format(v)


def _model_section(model: str, rows: List[Entry]) -> List[str]:
    out = [f"## {model}", ""]
    present = [c for c in COLUMNS if any(c[0] in e.scores.get("metrics", {}) for e in rows)]
    head = ["decode", "test set", "task", "#utt"] + [c[1] for c in present]
    out.append("|" + "|".join(head) + "|")
    out.append("|" + "|".join(["---"] * len(head)) + "|")
    for e in rows:
        m = e.scores.get("metrics", {})
        cells = [e.decode, e.test_set, e.task, str(e.scores.get("n_utts", "-"))]
        cells += [_fmt(k, m.get(k)) for k, _, _ in present]
        out.append("|" + "|".join(cells) + "|")
    out.append("")
    missing = [e for e in rows if e.scores.get("n_missing_hyps")]
    for e in missing:
        out.append(
            f"- {e.decode}/{e.test_set}/{e.task}: {e.scores['n_missing_hyps']} of {e.scores.get('n_utts')} "
            "utterances had no hypothesis and were scored as empty outputs."
        )
    empty_refs = [e for e in rows if e.scores.get("n_empty_refs")]
    for e in empty_refs:
        out.append(
            f"- {e.decode}/{e.test_set}/{e.task}: {e.scores['n_empty_refs']} of {e.scores.get('n_utts')} "
            f"references are empty (ids in {e.scores.get('empty_refs_file')}); they are scored as they are."
        )
    if missing or empty_refs:
        out.append("")

    for metric, title in (("wer", "WER"), ("cer", "CER")):
        detail = [e for e in rows if f"{metric}_sum_avg" in e.scores]
        if not detail:
            continue
        out += [f"### {title}", "", "|dataset|Snt|Wrd|Corr|Sub|Del|Ins|Err|S.Err|", "|---" * 9 + "|"]
        for e in detail:
            s = e.scores[f"{metric}_sum_avg"]
            vals = [s["snt"], s["wrd"], s["corr"], s["sub"], s["del"], s["ins"], s["err"], s["s.err"]]
            cells = [str(int(vals[0])), str(int(vals[1]))] + [f"{v:.1f}" for v in vals[2:]]
            name = f"{e.test_set}/{e.task}" if e.decode == "-" else f"{e.decode}/{e.test_set}/{e.task}"
            out.append(f"|{name}|" + "|".join(cells) + "|")
        out.append("")

    # signatures and normalisers, deduplicated
    sigs: Dict[str, List[str]] = {}
    for e in rows:
        for k, v in e.scores.get("signatures", {}).items():
            sigs.setdefault(k, [])
            if v not in sigs[k]:
                sigs[k].append(v)
    norms = sorted({e.scores["normalizer"] for e in rows if e.scores.get("normalizer")})
    sha = sorted({e.scores["flores200_spm_sha256"] for e in rows if e.scores.get("flores200_spm_sha256")})
    skipped = any(e.scores.get("spbleu_skipped") for e in rows)
    if sigs or norms:
        out += ["### Scoring settings", ""]
        names = {"wer": "WER", "cer": "CER", "bleu": "BLEU", "spbleu": "spBLEU", "chrf": "chrF",
                 "comet": "COMET", "cometkiwi": "CometKiwi"}
        for n in norms:
            out.append(f"- WER/CER normaliser (hyps and refs): {n}")
        for k in ["wer", "cer", "bleu", "spbleu", "chrf", "comet", "cometkiwi"]:
            for v in sigs.get(k, []):
                out.append(f"- {names[k]}: `{v}`")
        for h in sha:
            out.append(f"- spBLEU flores200 SentencePiece model sha256: `{h}`")
        if skipped:
            out.append("- spBLEU not computed for some rows (`--spbleu false`).")
        out.append("")
    return out


def render(entries: List[Entry], env: Dict[str, str], title: str = "RESULTS",
           notes: Sequence[str] = ()) -> str:
    """The whole RESULTS.md text: header, notes, side-by-side summary, then one section per model."""
    lines = [
        "<!-- Generated by espnet_spire/bin/make_results.py -->",
        f"# {title}",
        "## Environments",
        f"- date: `{env['date']}`",
        f"- python version: `{env['python']}`",
        f"- espnet version: `espnet {env['espnet']}`",
        f"- espnet_spire version: `espnet_spire {env['espnet_spire']}`",
        f"- pytorch version: `pytorch {env['torch']}`",
        f"- transformers version: `transformers {env['transformers']}`",
        f"- sacrebleu version: `sacrebleu {env['sacrebleu']}`",
        f"- whisper-normalizer version: `whisper-normalizer {env['whisper-normalizer']}`",
        f"- Git hash: `{env['git_hash']}`" + (" (uncommitted changes)" if env.get("git_dirty") == "yes" else ""),
        f"  - Commit date: `{env['git_date']}`",
        "",
        "WER/CER in %, corpus micro-average (sclite Sum/Avg); BLEU/spBLEU/chrF: sacrebleu corpus "
        "scores; COMET/CometKiwi: mean segment score x 100.",
        "",
    ]
    if notes:
        lines += [f"- {n}" for n in notes] + [""]
    if not entries:
        lines += ["No scored decode directories found.", ""]
    lines += summary_section(entries)
    by_model: Dict[str, List[Entry]] = {}
    for e in entries:
        by_model.setdefault(e.model, []).append(e)
    for model in by_model:
        rows = sorted(by_model[model], key=lambda e: (e.decode, e.test_set, e.task))
        lines += _model_section(model, rows)
    return "\n".join(lines).rstrip("\n") + "\n"


def make_results(
    exp_dir: Optional[PathLike],
    out_file: PathLike,
    externals: Sequence[Tuple[str, PathLike]] = (),
    git_dir: Optional[PathLike] = None,
    title: str = "RESULTS",
    notes: Sequence[str] = (),
    decode_dirs: Optional[Sequence[PathLike]] = None,
) -> str:
    entries = collect(exp_dir, externals, decode_dirs)
    text = render(entries, environment(git_dir), title, notes)
    Path(out_file).write_text(text, encoding="utf-8")
    return text
