"""IT examples and tokens of a stage-10 mixture, counted from the data roles without building it.

The mixture is read by the loader stage 10 uses (:func:`espnet_spire.lm.it_data.load_mixture`,
with ``--it_mixture_vars`` and ``--tgt_langs``); each role placeholder (``${it_asr_dir}``,
``${st_units}``, ``${pseudo_dir}``, ...) is filled with a marker naming its role, so that every
source is counted from its own role's dirs. Counts follow :func:`~espnet_spire.lm.it_data.sample_source`:
``all`` keeps what is available, ``N`` (or ``N/lang``) at most what is available unless
``replace: true``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Mapping, Optional

from espnet_spire.lm.it_data import load_mixture, parse_num_samples
from espnet_spire.plan import estimates as est

MARK = "@role:"
# Placeholder -> role (stage 10's --var names; pseudo_out is stage 9's output dir).
ROLE_VARS = {"it_asr_dir": "it_asr", "it_asr_units": "it_asr", "st_dir": "st", "st_units": "st",
             "pseudo_st_dir": "pseudo_st", "pseudo_st_units": "pseudo_st", "pseudo_dir": "pseudo_out",
             "it_mt_dir": "it_mt", "towerblocks": "towerblocks", "train_set": "train_set",
             "mt_train_set": "mt_train_set", "dumpdir": "dumpdir"}


@dataclass(frozen=True)
class RoleSize:
    """What a mixture source may draw from one role.

    ``available``: examples per language (key None for a source without languages);
    ``tokens_per_example``: units + output (+ input text) tokens of one example, without the
    ChatML overhead.
    """

    available: Mapping[Optional[str], int]
    tokens_per_example: float


@dataclass(frozen=True)
class SourceCount:
    """One mixture source in the plan."""

    name: str
    role: str
    examples: int
    tokens: float


def source_role(src: Mapping[str, object]) -> Optional[str]:
    """The role a loaded source reads, from the marker in its data path (None: no role marker)."""
    for key in ("text_dir", "mt_dir", "path", "text", "units"):
        value = src.get(key)
        if isinstance(value, str) and value.startswith(MARK):
            return value[len(MARK):].split("/", 1)[0]
    return None


def _count(num_samples: object, replace: bool, available: Mapping[Optional[str], int], langs: List[str]) -> int:
    n, per_lang = parse_num_samples(num_samples)
    groups = {k: v for k, v in available.items() if k is None or k in langs}
    if n is None:
        return sum(groups.values())
    if per_lang:
        return sum(n if replace else min(n, v) for v in groups.values())
    total = sum(groups.values())
    return n if replace else min(n, total)


def mixture_counts(path: str, variables: Mapping[str, str], tgt_langs: List[str],
                   sizes: Mapping[str, RoleSize], multiturn: Optional[RoleSize] = None) -> List[SourceCount]:
    """Examples and tokens of each source of the mixture at ``path``.

    ``sizes`` maps a role (``it_asr``, ``st``, ``pseudo_st``, ``it_mt``, ``towerblocks``) to what it
    holds; ``pseudo_out`` is stage 9's direct output and ``multiturn`` its multi-turn output. A
    source whose role holds nothing (no dirs given, or ``num_samples: 0``) is left out, as stage 10
    leaves out an optional source whose files are missing.
    """
    markers = {k: f"{MARK}{role}" for k, role in ROLE_VARS.items()}
    mix = load_mixture(path, {**markers, **dict(variables), "tgt_langs": " ".join(tgt_langs)})
    out: List[SourceCount] = []
    for src in mix["sources"]:
        role = source_role(src)
        kind = src["type"]
        if role == "pseudo_out" and kind == "multiturn_st":
            size = multiturn
        else:
            size = sizes.get(role or "")
        if size is None or not size.available:
            continue
        if kind == "mt" and src.get("directions", "both") == "both":
            size = RoleSize({k: 2 * v for k, v in size.available.items()}, size.tokens_per_example)
        langs = src.get("langs") if isinstance(src.get("langs"), list) else tgt_langs
        n = _count(src.get("num_samples", "all"), bool(src.get("replace", False)), size.available, list(langs))
        if n:
            out.append(SourceCount(str(src["name"]), role or "?", n,
                                   n * (size.tokens_per_example + est.IT_EXAMPLE_OVERHEAD)))
    return out
