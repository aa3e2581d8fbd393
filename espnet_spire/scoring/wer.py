"""WER/CER the ESPnet way: ``ref.trn``/``hyp.trn`` + sclite, or a sclite-compatible Python scorer.

Layout of a score directory (``score_wer/`` or ``score_cer/`` under a decode directory), as in
ESPnet's ``asr.sh`` stage 13:

- ``ref.trn`` / ``hyp.trn``: one utterance per line, ``tokens<TAB>(spk-uttid)``; words for WER,
  characters for CER with the blank written as ``<space>``;
- ``result.txt``: sclite's report (``sclite -r ref.trn trn -h hyp.trn trn -i rm -o all stdout``)
  or, without sclite, the same tables computed here (:func:`format_report`);
- ``result.json``: error rate (a fraction and the printed percentage) and the counts.

The Python scorer reproduces sclite's numbers: the alignment minimises sclite's weighted cost
(insertion 3, deletion 3, substitution 4, match 0), the traceback starts at the end and prefers a
match/substitution, then an insertion, then a deletion (this reproduces sclite's per-utterance
#C #S #D #I), and words are compared case-insensitively for ASCII letters only (sclite's
default; non-ASCII letters compare exactly).  Characters that sclite's ``trn`` reader treats as
markup (``( ) { }``, i.e. optional words and alternations) are written as ``-LRB- -RRB- -LCB-
-RCB-`` so that both scorers see plain tokens.
"""

from __future__ import annotations

import logging
import math
import os
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from espnet_spire.common.fileio import PathLike, write_json

COST_INS = 3
COST_DEL = 3
COST_SUB = 4
SPACE_SYMBOL = "<space>"
DEFAULT_SCLITE = "/usr/lib/sctk/bin/sclite"
LEVELS = ("word", "char")

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_TRN_ESCAPES = {"(": "-LRB-", ")": "-RRB-", "{": "-LCB-", "}": "-RCB-"}
_TRN_ESCAPE_RE = re.compile("[(){}]")


# ------------------------------------------------------------------------- tokens and alignment


def tokenize(text: str, level: str) -> List[str]:
    """Word or character tokens; runs of whitespace count as one blank, ends are stripped.

    ``char`` gives one token per character and ``<space>`` between words (ESPnet's char
    tokenizer on a whitespace-collapsed line).
    """
    words = text.split()
    if level == "word":
        return words
    if level != "char":
        raise ValueError(f"unknown token level {level!r}; choose 'word' or 'char'")
    out: List[str] = []
    for i, w in enumerate(words):
        if i:
            out.append(SPACE_SYMBOL)
        out.extend(w)
    return out


def escape_trn_token(token: str) -> str:
    """Replace sclite markup characters ``( ) { }`` inside a token (see the module docstring)."""
    if token == SPACE_SYMBOL:
        return token
    return _TRN_ESCAPE_RE.sub(lambda m: _TRN_ESCAPES[m.group(0)], token)


def fold_case(token: str) -> str:
    """sclite's default comparison key: ASCII letters lower-cased, everything else unchanged."""
    return token.translate(_ASCII_LOWER)


Op = Tuple[str, Optional[str], Optional[str]]  # ("C"|"S"|"D"|"I", ref token, hyp token)


def align(ref: Sequence[str], hyp: Sequence[str], case_sensitive: bool = False) -> List[Op]:
    """Minimum-cost alignment with sclite's weights and tie-breaking; returns ops in order."""
    rk = list(ref) if case_sensitive else [fold_case(t) for t in ref]
    hk = list(hyp) if case_sensitive else [fold_case(t) for t in hyp]
    n, m = len(rk), len(hk)
    # cost[i][j]: cost of aligning ref[:i] with hyp[:j]
    prev = [COST_INS * j for j in range(m + 1)]
    rows = [prev]
    for i in range(1, n + 1):
        r = rk[i - 1]
        cur = [COST_DEL * i] + [0] * m
        for j in range(1, m + 1):
            best = prev[j - 1] + (0 if r == hk[j - 1] else COST_SUB)
            d = prev[j] + COST_DEL
            if d < best:
                best = d
            ins = cur[j - 1] + COST_INS
            if ins < best:
                best = ins
            cur[j] = best
        rows.append(cur)
        prev = cur
    ops: List[Op] = []
    i, j = n, m
    while i > 0 or j > 0:
        here = rows[i][j]
        if i > 0 and j > 0:
            same = rk[i - 1] == hk[j - 1]
            if here == rows[i - 1][j - 1] + (0 if same else COST_SUB):
                ops.append(("C" if same else "S", ref[i - 1], hyp[j - 1]))
                i -= 1
                j -= 1
                continue
        if j > 0 and here == rows[i][j - 1] + COST_INS:
            ops.append(("I", None, hyp[j - 1]))
            j -= 1
            continue
        ops.append(("D", ref[i - 1], None))
        i -= 1
    ops.reverse()
    return ops


# ------------------------------------------------------------------------- counts


@dataclass
class ErrorCounts:
    """Sentence/word counts and errors, summable over utterances (sclite's Sum line)."""

    snt: int = 0
    wrd: int = 0
    corr: int = 0
    sub: int = 0
    dele: int = 0
    ins: int = 0
    serr: int = 0

    @property
    def err(self) -> int:
        return self.sub + self.dele + self.ins

    @property
    def error_rate(self) -> float:
        """(S+D+I)/(S+D+C) as a fraction (corpus micro-average); NaN without reference tokens."""
        return self.err / self.wrd if self.wrd else float("nan")

    def add(self, other: "ErrorCounts") -> None:
        self.snt += other.snt
        self.wrd += other.wrd
        self.corr += other.corr
        self.sub += other.sub
        self.dele += other.dele
        self.ins += other.ins
        self.serr += other.serr

    @classmethod
    def from_ops(cls, ops: Iterable[Op]) -> "ErrorCounts":
        c = cls(snt=1)
        for op, _, _ in ops:
            if op == "C":
                c.corr += 1
            elif op == "S":
                c.sub += 1
            elif op == "D":
                c.dele += 1
            else:
                c.ins += 1
        c.wrd = c.corr + c.sub + c.dele
        c.serr = 1 if c.err else 0
        return c

    def percentages(self) -> Tuple[float, float, float, float, float, float]:
        """Corr, Sub, Del, Ins, Err, S.Err in percent, as sclite prints them."""
        w = self.wrd
        pct = (lambda x: x / w * 100.0) if w else (lambda x: 0.0)
        s_err = self.serr / self.snt * 100.0 if self.snt else 0.0
        return pct(self.corr), pct(self.sub), pct(self.dele), pct(self.ins), pct(self.err), s_err

    def as_dict(self) -> Dict[str, int]:
        d = asdict(self)
        d["del"] = d.pop("dele")
        d["err"] = self.err
        return d


@dataclass
class UttScore:
    """One utterance: ids, the tokens as written to the trn files, alignment and counts."""

    uttid: str
    spk: str
    ref: List[str]
    hyp: List[str]
    ops: List[Op] = field(default_factory=list)
    counts: ErrorCounts = field(default_factory=ErrorCounts)


def sclite_speaker(spk: str, uttid: str) -> str:
    """sclite's speaker of the id ``(spk-uttid)``: text before the first ``-``, lower-cased."""
    return f"{spk}-{uttid}".split("-", 1)[0].lower()


# sclite's trn format ends a line with "(spk-uttid)": an id holding these cannot be read back.
TRN_ID_UNSAFE = "()"


def check_trn_ids(ids: Sequence[str], utt2spk: Optional[Dict[str, str]] = None,
                  source: Optional[str] = None) -> None:
    """Fail naming the first utterance (or speaker) id that sclite's trn format cannot hold,
    before scoring: sclite would misparse it and disagree with the Python scorer."""
    bad = [u for u in ids if any(c in u for c in TRN_ID_UNSAFE)]
    spk_bad = sorted({s for s in (utt2spk or {}).values() if any(c in s for c in TRN_ID_UNSAFE)})
    if bad or spk_bad:
        what = (f"utterance id {bad[0]!r} ({len(bad)} such ids)" if bad
                else f"speaker id {spk_bad[0]!r} (utt2spk)")
        where = f"{source}: " if source else ""
        raise ValueError(
            f"{where}{what}: WER scoring writes sclite trn files, whose lines end in "
            "'(spk-uttid)', so an id cannot contain '(' or ')'; rename the utterances of the test set in data/ "
            "(Kaldi ids: letters, digits, '-', '_') and rerun from stage 2"
        )


def score_utterances(
    ids: Sequence[str],
    refs: Sequence[str],
    hyps: Sequence[str],
    level: str,
    utt2spk: Optional[Dict[str, str]] = None,
) -> List[UttScore]:
    """Tokenise (already normalised) texts, escape sclite markup and align every utterance."""
    out = []
    for uttid, r, h in zip(ids, refs, hyps):
        rt = [escape_trn_token(t) for t in tokenize(r, level)]
        ht = [escape_trn_token(t) for t in tokenize(h, level)]
        spk = utt2spk.get(uttid, uttid) if utt2spk else uttid
        ops = align(rt, ht)
        out.append(UttScore(uttid, spk, rt, ht, ops, ErrorCounts.from_ops(ops)))
    return out


def total_counts(utts: Iterable[UttScore]) -> ErrorCounts:
    tot = ErrorCounts()
    for u in utts:
        tot.add(u.counts)
    return tot


# ------------------------------------------------------------------------- trn files


def trn_line(tokens: Sequence[str], spk: str, uttid: str) -> str:
    """``tokens<TAB>(spk-uttid)`` as ESPnet's stage 13 writes it (paste of text and ids)."""
    return f"{' '.join(tokens)}\t({spk}-{uttid})\n"


def write_trn_files(utts: Sequence[UttScore], ref_trn: PathLike, hyp_trn: PathLike) -> None:
    with open(ref_trn, "w", encoding="utf-8") as fr, open(hyp_trn, "w", encoding="utf-8") as fh:
        for u in utts:
            fr.write(trn_line(u.ref, u.spk, u.uttid))
            fh.write(trn_line(u.hyp, u.spk, u.uttid))


# ------------------------------------------------------------------------- report (sclite layout)


def _per_speaker(utts: Sequence[UttScore]) -> List[Tuple[str, ErrorCounts]]:
    order: List[str] = []
    by: Dict[str, ErrorCounts] = {}
    for u in utts:
        s = sclite_speaker(u.spk, u.uttid)
        if s not in by:
            by[s] = ErrorCounts()
            order.append(s)
        by[s].add(u.counts)
    return [(s, by[s]) for s in order]


def _r1(x: float) -> float:
    """sclite's rounding to one decimal: half up (``(int)(x * 10 + 0.5) / 10``), not half-even."""
    return math.floor(x * 10.0 + 0.5) / 10.0


def _center(text: str, width: int) -> str:
    """Centre like sclite: the odd blank goes to the right."""
    pad = max(0, width - len(text))
    return " " * (pad // 2) + text + " " * (pad - pad // 2)


def _mean_sd_median(values: Sequence[float]) -> Tuple[float, float, float]:
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    s = sorted(values)
    med = s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
    return mean, sd, med


def _pct_row(name: str, c: ErrorCounts, w: int) -> str:
    p = c.percentages()
    nums = f"{_r1(p[0]):5.1f}" + "".join(f"{_r1(x):7.1f}" for x in p[1:]) + " "
    return f"|{(' ' + name).ljust(w)}|{c.snt:5d}{c.wrd:7d} |{nums}|"


def _pct_stat(label: str, v: List[float], w: int) -> str:
    nums = f"{_r1(v[2]):5.1f}" + "".join(f"{_r1(x):7.1f}" for x in v[3:]) + " "
    return f"|{_center(label, w)}|{_r1(v[0]):5.1f}{_r1(v[1]):7.1f} |{nums}|"


def _cnt_row(name: str, c: ErrorCounts, w: int) -> str:
    nums = f"{c.corr:5d}" + "".join(f"{x:7d}" for x in (c.sub, c.dele, c.ins, c.err, c.serr))
    return f"|{(' ' + name).ljust(w)}|{c.snt:5d}{c.wrd:7d} |{nums} |"


def _cnt_stat(label: str, v: List[float], w: int) -> str:
    nums = f"{_r1(v[2]):5.1f}" + "".join(f"{_r1(x):7.1f}" for x in v[3:])
    return f"|{_center(label, w)}|{_r1(v[0]):5.1f}{_r1(v[1]):7.1f} |{nums} |"


@dataclass(frozen=True)
class _SummaryTable:
    """What differs between sclite's two ``SYSTEM SUMMARY`` tables (percentages, counts)."""

    min_width: int  # narrowest speaker column
    sum_label: str
    row: Callable[[str, ErrorCounts, int], str]
    values: Callable[[ErrorCounts], Tuple[float, ...]]  # the columns that get mean/S.D./median
    stat: Callable[[str, List[float], int], str]


_SUMMARY_TABLES = (
    _SummaryTable(8, "Sum/Avg", _pct_row, lambda c: (c.snt, c.wrd) + c.percentages(), _pct_stat),
    _SummaryTable(
        6, "Sum", _cnt_row, lambda c: (c.snt, c.wrd, c.corr, c.sub, c.dele, c.ins, c.err, c.serr), _cnt_stat
    ),
)


def _summary_table(
    table: _SummaryTable, spk: Sequence[Tuple[str, ErrorCounts]], tot: ErrorCounts, system_name: str
) -> List[str]:
    """One ``SYSTEM SUMMARY`` table of sclite: a row per speaker, the total, mean/S.D./median."""
    w = max([table.min_width] + [len(s) + 2 for s, _ in spk])
    inner = w + 1 + 13 + 1 + 41
    bar = "|" + "-" * w + "+" + "-" * 13 + "+" + "-" * 41 + "|"
    dbl = "|" + "=" * inner + "|"
    ind = " " * max(0, (79 - (inner + 2)) // 2)
    lines = ["", "", "", "SYSTEM SUMMARY PERCENTAGES by SPEAKER".center(80), ""]
    lines.append(ind + "," + "-" * inner + ".")
    lines.append(ind + "|" + _center(system_name, inner) + "|")
    lines.append(ind + "|" + "-" * inner + "|")
    lines.append(ind + "|" + " SPKR".ljust(w) + "| # Snt # Wrd | Corr    Sub    Del    Ins    Err  S.Err |")
    lines.append(ind + bar)
    for i, (s, c) in enumerate(spk):
        lines.append(ind + table.row(s, c, w))
        lines.append(ind + (bar if i < len(spk) - 1 else dbl))
    lines.append(ind + table.row(table.sum_label, tot, w))
    lines.append(ind + dbl)
    stats = [_mean_sd_median(list(col)) for col in zip(*[table.values(c) for _, c in spk])]
    for k, label in enumerate(["Mean", "S.D.", "Median"]):
        lines.append(ind + table.stat(label, [st[k] for st in stats], w))
    lines.append(ind + "`" + "-" * inner + "'")
    return lines


def format_report(utts: Sequence[UttScore], system_name: str = "hyp.trn") -> str:
    """A report with sclite's ``-o all`` layout: percentages and counts by speaker, alignments."""
    spk = _per_speaker(utts)
    tot = total_counts(utts)
    lines: List[str] = []
    for table in _SUMMARY_TABLES:
        lines += _summary_table(table, spk, tot, system_name)

    # --- alignments
    lines += ["", "", "\t\tDUMP OF SYSTEM ALIGNMENT STRUCTURE", "", f"System name:   {system_name}", ""]
    lines.append("Speakers: ")
    for k, (s, _) in enumerate(spk):
        lines.append(f"{k:5d}:  {s}")
    lines.append("")
    by_spk: Dict[str, List[UttScore]] = {}
    for u in utts:
        by_spk.setdefault(sclite_speaker(u.spk, u.uttid), []).append(u)
    for k, (s, _) in enumerate(spk):
        lines.append(f"Speaker sentences {k:3d}:  {s}   #utts: {len(by_spk[s])}")
        for u in by_spk[s]:
            c = u.counts
            lines.append(f"id: ({u.spk}-{u.uttid})".lower())
            lines.append(f"Scores: (#C #S #D #I) {c.corr} {c.sub} {c.dele} {c.ins}")
            rr, hh, ee = ["REF: "], ["HYP: "], ["Eval:"]
            for op, r, h in u.ops:
                if op == "C":
                    r_s, h_s = fold_case(r), fold_case(h)
                elif op == "S":
                    r_s, h_s = r.upper(), h.upper()
                elif op == "D":
                    r_s, h_s = r.upper(), "*" * len(r)
                else:
                    r_s, h_s = "*" * len(h), h.upper()
                width = max(len(r_s), len(h_s))
                rr.append(r_s.ljust(width))
                hh.append(h_s.ljust(width))
                ee.append(("" if op == "C" else op).ljust(width))
            lines += [" ".join(rr) + " ", " ".join(hh) + " ", " ".join(ee) + " ", ""]
    lines.append("")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------- parsing sclite output

_NUM = r"\s*(-?[0-9.]+)"


@dataclass
class SummaryLine:
    """The numbers of a report's ``Sum/Avg`` (percent) and ``Sum`` (count) lines."""

    snt: int
    wrd: int
    corr: float
    sub: float
    dele: float
    ins: float
    err: float
    serr: float


def _parse_row(line: str) -> SummaryLine:
    nums = re.findall(r"-?[0-9]+(?:\.[0-9]+)?", line.split("|", 2)[2])
    if len(nums) != 8:
        raise ValueError(f"cannot parse sclite summary line: {line!r}")
    v = [float(x) for x in nums]
    return SummaryLine(int(v[0]), int(v[1]), *v[2:])


def parse_report(text: str) -> Tuple[SummaryLine, Optional[SummaryLine]]:
    """(``Sum/Avg`` percentages, ``Sum`` counts or None) from a sclite-style report."""
    pct = cnt = None
    for line in text.splitlines():
        s = line.strip()
        if pct is None and re.match(r"^\|\s*Sum/Avg\s*\|", s):
            pct = _parse_row(s)
        elif cnt is None and re.match(r"^\|\s*Sum\s*\|", s):
            cnt = _parse_row(s)
    if pct is None:
        raise ValueError("no 'Sum/Avg' line in the sclite report")
    return pct, cnt


# ------------------------------------------------------------------------- sclite


def find_sclite(explicit: Optional[str] = None) -> Optional[str]:
    """Path of sclite: ``explicit``, ``$SCLITE``, ``sclite`` on PATH, Debian's sctk location."""
    for cand in (explicit, os.environ.get("SCLITE"), shutil.which("sclite"), DEFAULT_SCLITE):
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    if explicit:
        raise FileNotFoundError(f"sclite not found or not executable: {explicit}")
    return None


def run_sclite(sclite: str, score_dir: PathLike) -> str:
    """``sclite -r ref.trn trn -h hyp.trn trn -i rm -o all stdout`` in ``score_dir``; the report."""
    cmd = [sclite, "-r", "ref.trn", "trn", "-h", "hyp.trn", "trn", "-i", "rm", "-o", "all", "stdout"]
    proc = subprocess.run(cmd, cwd=score_dir, capture_output=True)
    out = proc.stdout.decode("utf-8", "replace")
    if proc.returncode != 0 or "Sum/Avg" not in out:
        raise RuntimeError(
            f"sclite failed (exit {proc.returncode}) in {score_dir}: "
            f"{proc.stderr.decode('utf-8', 'replace')[-2000:]}"
        )
    return out


# ------------------------------------------------------------------------- one score dir


def score_dir(
    ids: Sequence[str],
    refs: Sequence[str],
    hyps: Sequence[str],
    out_dir: PathLike,
    level: str = "word",
    normalizer: str = "whisper",
    utt2spk: Optional[Dict[str, str]] = None,
    backend: str = "auto",
    sclite: Optional[str] = None,
    extra_info: Optional[Dict] = None,
) -> Dict:
    """Normalise, write ``ref.trn``/``hyp.trn``, score with sclite or Python, write results.

    ``backend``: ``auto`` (sclite when found, else Python), ``sclite`` (required) or ``python``.
    With sclite, the Python scorer runs too and a disagreement is an error (it would mean a
    tokenisation or parsing problem).  Returns the ``result.json`` content.
    """
    from espnet_spire.scoring.normalize import canonical_name, describe, get_normalizer

    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}")
    norm = get_normalizer(normalizer)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    check_trn_ids(ids, utt2spk)
    utts = score_utterances(ids, [norm(r) for r in refs], [norm(h) for h in hyps], level, utt2spk)
    write_trn_files(utts, out / "ref.trn", out / "hyp.trn")
    tot = total_counts(utts)

    if backend not in ("auto", "sclite", "python"):
        raise ValueError(f"unknown backend {backend!r}")
    exe = None
    if backend != "python":
        exe = find_sclite(sclite)
        if exe is None and backend == "sclite":
            raise FileNotFoundError(
                "sclite not found (looked at $SCLITE, PATH and /usr/lib/sctk/bin/sclite); "
                "install Debian's sctk (apt-get install sctk) or use --backend python"
            )
    if exe:
        report = run_sclite(exe, out)
        used = "sclite"
    else:
        report = format_report(utts)
        used = "python"
    (out / "result.txt").write_text(report, encoding="utf-8")

    pct, cnt = parse_report(report)
    if exe:
        mine = ErrorCounts(tot.snt, tot.wrd, tot.corr, tot.sub, tot.dele, tot.ins, tot.serr)
        if cnt is not None and (
            int(cnt.snt), int(cnt.wrd), int(cnt.corr), int(cnt.sub), int(cnt.dele), int(cnt.ins)
        ) != (mine.snt, mine.wrd, mine.corr, mine.sub, mine.dele, mine.ins):
            raise RuntimeError(
                f"sclite and the Python scorer disagree in {out}: sclite {cnt}, python {mine}"
            )
    metric = "wer" if level == "word" else "cer"
    result = {
        "metric": metric,
        metric: tot.error_rate,
        "percent": pct.err,
        "counts": tot.as_dict(),
        "sum_avg": {
            "snt": pct.snt, "wrd": pct.wrd, "corr": pct.corr, "sub": pct.sub,
            "del": pct.dele, "ins": pct.ins, "err": pct.err, "s.err": pct.serr,
        },
        "level": level,
        "normalizer": canonical_name(normalizer),
        "normalizer_description": describe(normalizer),
        "backend": used,
        "sclite": exe,
    }
    if extra_info:
        result.update(extra_info)
    write_json(out / "result.json", result, sort_keys=False)
    logging.info("%s: %s %.2f%% (%s, %s normaliser)", out, metric.upper(), pct.err, used, normalizer)
    return result


def corpus_error_rate(refs: Sequence[str], hyps: Sequence[str], level: str = "word") -> float:
    """(S+D+I)/N over all pairs, on texts as given (no normalisation); sclite-compatible."""
    tot = ErrorCounts()
    for r, h in zip(refs, hyps):
        tot.add(ErrorCounts.from_ops(align(tokenize(r, level), tokenize(h, level))))
    return tot.error_rate
