"""Score one decode directory completely (stage 13): WER/CER for ASR; BLEU, spBLEU, chrF and
optionally COMET-22 / CometKiwi for speech and text translation.

A decode directory ``exp/<model>/decode_<tag>/<test_set>/<task>/`` holds ``text`` (Kaldi
``uttid hyp``).  Scoring writes, under it, ``score_wer/``, ``score_cer/``, ``score_bleu/``,
``score_comet/``, ``score_cometkiwi/`` and a summary ``scores.json`` that
:mod:`espnet_spire.scoring.results` turns into RESULTS.md.  Output of other systems (a Kaldi or
plain text file) is first copied into such a directory (:func:`import_hypotheses`) and then
scored by the same code.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from espnet_spire.common.fileio import PathLike, write_json, write_lines
from espnet_spire.scoring.textio import load_hypotheses, pair_up, read_text, read_utt2spk

TASK_KINDS = ("asr", "st", "mt")
logger = logging.getLogger(__name__)

SCORES_FILE = "scores.json"
EMPTY_REFS_FILE = "empty_refs"


@dataclass
class ScoreOptions:
    """What to compute and how (the CLI options of ``score_decode_dir``)."""

    normalizer: str = "whisper"
    cer: bool = True
    wer_backend: str = "auto"
    sclite: Optional[str] = None
    spbleu: bool = True
    flores200_spm: Optional[str] = None
    bleu_tokenize: str = "auto"
    comet_model: Optional[str] = None
    cometkiwi_model: Optional[str] = None
    comet_python: Optional[str] = None
    comet_batch_size: int = 16
    comet_gpus: int = 0
    comet_precision: str = "half"
    comet_encoder_dir: Optional[str] = None
    cometkiwi_encoder_dir: Optional[str] = None
    allow_missing: bool = True


@dataclass
class TaskInfo:
    kind: str  # asr | st | mt
    name: str  # e.g. st_de, mt_en_de, multiturn_st_de, asr
    src_lang: str = "en"
    tgt_lang: str = "en"
    extra: Dict = field(default_factory=dict)


def parse_task_name(task: str, tgt_lang: Optional[str] = None, src_lang: Optional[str] = None,
                    dir_name: Optional[str] = None) -> TaskInfo:
    """``asr|st|mt`` (+ languages) or a stage-12 task name (``st_de``, ``mt_en_de``,
    ``multiturn_st_de``); ``auto`` takes the name of the decode directory."""
    name = dir_name if task == "auto" else task
    if name is None:
        raise ValueError("--task auto needs a decode directory named after its task")
    if name in TASK_KINDS:
        kind = name
        src = src_lang or "en"
        tgt = tgt_lang or ("en" if kind == "asr" else None)
        if tgt is None:
            raise ValueError(f"--task {kind} needs --tgt_lang")
        full = "asr" if kind == "asr" else (f"st_{tgt}" if kind == "st" else f"mt_{src}_{tgt}")
        return TaskInfo(kind, full, src, tgt)
    parts = name.split("_")
    if name.startswith("multiturn_st_") and len(parts) == 3:
        return TaskInfo("st", name, src_lang or "en", parts[2])
    if parts[0] == "st" and len(parts) == 2:
        return TaskInfo("st", name, src_lang or "en", parts[1])
    if parts[0] == "mt" and len(parts) == 3:
        return TaskInfo("mt", name, parts[1], parts[2])
    raise ValueError(
        f"unknown task {name!r}: use asr|st|mt (with --tgt_lang) or asr, st_<lang>, "
        "mt_<src>_<tgt>, multiturn_st_<lang>"
    )


def import_hypotheses(hyp_file: PathLike, ref_file: PathLike, out_dir: PathLike, fmt: str = "auto") -> Path:
    """Copy another system's output (Kaldi or plain lines aligned with the reference) into
    ``out_dir/text`` (Kaldi, sorted) so that it is scored like a decode directory."""
    from espnet_spire.common.kaldi_dir import write_kaldi_file

    refs = read_text(ref_file)
    hyps = load_hypotheses(hyp_file, list(refs), fmt)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_kaldi_file(out / "text", {k: " ".join(v.split()) for k, v in hyps.items()})
    source = {"hyp_file": os.path.abspath(hyp_file), "format": fmt, "ref": os.path.abspath(ref_file)}
    write_json(out / "source.json", source, sort_keys=False, ensure_ascii=True)
    return out / "text"


def _default_src(ref_file: PathLike, src_lang: str) -> Optional[Path]:
    """``<data dir>/text.tc.<src>`` or ``<data dir>/text`` (the transcript) next to the reference."""
    d = Path(ref_file).parent
    for cand in (d / f"text.tc.{src_lang}", d / "text"):
        if cand.is_file() and cand != Path(ref_file):
            return cand
    return None


def note_empty_references(hyp_dir: Path, ref_file: PathLike, ids: List[str], refs: List[str]) -> List[str]:
    """Ids whose reference is empty, listed in ``hyp_dir/empty_refs`` and in a WARNING line.

    An empty reference cannot be scored meaningfully (every hypothesis word is an insertion, and
    BLEU has nothing to match), so the count must be seen in the stage log and in RESULTS.md,
    not only in a per-utterance detail file.
    """
    path = hyp_dir / EMPTY_REFS_FILE
    empty = [k for k, r in zip(ids, refs) if not r.strip()]
    if not empty:
        if path.exists():
            path.unlink()  # from a scoring against other references
        return empty
    write_lines(path, empty)
    logger.warning("%d of %d references in %s are empty (ids in %s); they are scored as they are",
                   len(empty), len(ids), ref_file, path)
    return empty


@dataclass
class ScoreJob:
    """One decode dir to score: its hypotheses, reference and task."""

    hyp_dir: PathLike
    ref_file: PathLike
    task: TaskInfo
    src_file: Optional[PathLike] = None
    utt2spk_file: Optional[PathLike] = None
    hyp_file: Optional[PathLike] = None


def score_decode_dir(
    hyp_dir: PathLike,
    ref_file: PathLike,
    task: TaskInfo,
    opts: ScoreOptions,
    src_file: Optional[PathLike] = None,
    utt2spk_file: Optional[PathLike] = None,
    hyp_file: Optional[PathLike] = None,
) -> Dict:
    """Score ``hyp_dir/text`` (or ``hyp_file``) against ``ref_file``; write the score dirs and
    ``scores.json``; return the summary."""
    return score_decode_dirs([ScoreJob(hyp_dir, ref_file, task, src_file, utt2spk_file, hyp_file)], opts)[0]


def score_decode_dirs(jobs: Sequence[ScoreJob], opts: ScoreOptions) -> List[Dict]:
    """:func:`score_decode_dir` for many dirs in one process: WER/BLEU per dir, then COMET-22 and
    CometKiwi each in ONE run over the segments of every translation dir (stage 13 scores hundreds
    of task dirs; a COMET process and model load per dir would cost seconds each)."""
    from espnet_spire.scoring import comet as comet_mod

    summaries, pending = [], []
    for job in jobs:
        summary, comet_inputs = _score_without_comet(job, opts)
        summaries.append(summary)
        if comet_inputs is not None:
            pending.append((summary, job, comet_inputs))
    kw = dict(comet_python=opts.comet_python, batch_size=opts.comet_batch_size, gpus=opts.comet_gpus,
              precision=opts.comet_precision)
    for metric, model, encoder_dir, with_refs in (
        ("comet", opts.comet_model, opts.comet_encoder_dir, True),
        ("cometkiwi", opts.cometkiwi_model, opts.cometkiwi_encoder_dir, False),
    ):
        if not model or not pending:
            continue
        requests = [
            comet_mod.CometRequest(ids, srcs, hyps, refs if with_refs else None,
                                   Path(job.hyp_dir) / f"score_{metric}", common)
            for _, job, (ids, srcs, hyps, refs, common) in pending
        ]
        results = comet_mod.score_dirs(requests, model, metric=metric, encoder_dir=encoder_dir, **kw)
        for (summary, _, _), r in zip(pending, results):
            summary["metrics"][metric] = r["system_score"]
            summary["signatures"][metric] = r["signature"]
            summary["score_dirs"][metric] = f"score_{metric}"
    for summary, job in zip(summaries, jobs):
        write_json(Path(job.hyp_dir) / SCORES_FILE, summary, sort_keys=False)
        logging.info("%s: %s", job.hyp_dir, ", ".join(f"{k}={v:.2f}" for k, v in summary["metrics"].items()))
    return summaries


def _score_without_comet(job: ScoreJob, opts: ScoreOptions) -> Tuple[Dict, Optional[Tuple]]:
    """WER/CER or BLEU/spBLEU/chrF of one dir; and, for translation with a COMET model, the
    ``(ids, srcs, hyps, refs, common)`` COMET needs."""
    from espnet_spire.scoring import bleu as bleu_mod
    from espnet_spire.scoring import wer as wer_mod

    hyp_dir, ref_file, task = Path(job.hyp_dir), job.ref_file, job.task
    hyp_path = Path(job.hyp_file) if job.hyp_file else hyp_dir / "text"
    refs = read_text(ref_file)
    hyps = read_text(hyp_path)
    paired = pair_up(refs, hyps, allow_missing=opts.allow_missing, what=f"{hyp_path}: ")
    summary: Dict = {
        "task": task.name,
        "kind": task.kind,
        "src_lang": task.src_lang,
        "tgt_lang": task.tgt_lang,
        "ref": os.path.abspath(ref_file),
        "hyp": os.path.abspath(hyp_path),
        "n_utts": len(paired.ids),
        "n_missing_hyps": len(paired.missing),
        "metrics": {},
        "signatures": {},
        "score_dirs": {},
    }
    common = {"n_missing_hyps": len(paired.missing), "ref": summary["ref"], "hyp": summary["hyp"]}
    empty = note_empty_references(hyp_dir, ref_file, paired.ids, paired.refs)
    if empty:
        summary["n_empty_refs"] = len(empty)
        summary["empty_refs_file"] = os.path.abspath(hyp_dir / EMPTY_REFS_FILE)

    if task.kind == "asr":
        utt2spk_path = job.utt2spk_file or (Path(ref_file).parent / "utt2spk")
        utt2spk = read_utt2spk(utt2spk_path)
        wer_mod.check_trn_ids(paired.ids, utt2spk, source=str(ref_file))
        levels = ["word"] + (["char"] if opts.cer else [])
        for level in levels:
            metric = "wer" if level == "word" else "cer"
            res = wer_mod.score_dir(
                paired.ids, paired.refs, paired.hyps, hyp_dir / f"score_{metric}", level=level,
                normalizer=opts.normalizer, utt2spk=utt2spk, backend=opts.wer_backend,
                sclite=opts.sclite, extra_info=common,
            )
            summary["metrics"][metric] = res["percent"]
            summary["metrics"][f"{metric}_exact"] = 100.0 * res[metric]
            summary[f"{metric}_sum_avg"] = res["sum_avg"]
            summary["signatures"][metric] = (
                f"normalizer:{res['normalizer']}|level:{level}|scorer:{res['backend']}"
            )
            summary["normalizer"] = res["normalizer_description"]
            summary["score_dirs"][metric] = f"score_{metric}"
        return summary, None

    res = bleu_mod.score_dir(
        paired.ids, paired.refs, paired.hyps, hyp_dir / "score_bleu", spbleu=opts.spbleu,
        flores200_spm=opts.flores200_spm, bleu_tokenize=opts.bleu_tokenize,
        tgt_lang=task.tgt_lang, extra_info=common,
    )
    summary["metrics"]["bleu"] = res["bleu"]
    summary["metrics"]["chrf"] = res["chrf"]
    if res["spbleu"] is not None:
        summary["metrics"]["spbleu"] = res["spbleu"]
        summary["flores200_spm_sha256"] = res["details"]["spbleu"]["flores200_spm_sha256"]
    else:
        summary["spbleu_skipped"] = "--spbleu false"
    for k, v in res["signatures"].items():
        summary["signatures"][k] = v
    summary["score_dirs"]["bleu"] = "score_bleu"
    if not (opts.comet_model or opts.cometkiwi_model):
        return summary, None
    src_path = Path(job.src_file) if job.src_file else _default_src(ref_file, task.src_lang)
    if src_path is None:
        raise ValueError(f"COMET needs the source text: pass --src (e.g. data/<set>/text.tc.{task.src_lang})")
    srcs_all = read_text(src_path)
    lost = [k for k in paired.ids if k not in srcs_all]
    if lost:
        raise ValueError(f"{src_path}: no source text for {len(lost)} utterances, e.g. {lost[:3]}")
    summary["src"] = os.path.abspath(src_path)
    return summary, (paired.ids, [srcs_all[k] for k in paired.ids], paired.hyps, paired.refs, common)
