"""The data roles of spire.sh as the plan sees them: which dirs each role names, which roles each
dir serves, and which stages read a role (README, "Data roles")."""

from __future__ import annotations

import argparse
from typing import Dict, List

# Role option -> the stages that read it (besides stages 2-5 for every speech dir).
SPEECH_ROLES = {"kmeans_sets": (3,), "cpt_speech_sets": (7,), "it_asr_sets": (10,), "st_sets": (10,),
                "pseudo_st_sets": (9, 10), "valid_set": (7, 10), "test_sets": (12, 13)}
TEXT_ROLES = {"cpt_mono_sets": (7,), "cpt_mt_sets": (7,), "it_mt_sets": (10,), "text_test_sets": (12, 13)}


def uniq(words: List[str]) -> List[str]:
    """The words, each once, in order of first mention (spire.sh's ``uniq_words``)."""
    return list(dict.fromkeys(words))


def role_sets(args: argparse.Namespace) -> Dict[str, List[str]]:
    """Role option -> the dirs it names (after spire.sh's defaults)."""
    return {role: str(getattr(args, role) or "").split() for role in (*SPEECH_ROLES, *TEXT_ROLES)}


def derived_sets(args: argparse.Namespace) -> Dict[str, List[str]]:
    """``speech_sets`` (stage 2), ``unit_sets`` (stage 5) and ``text_sets`` as spire.sh passes them;
    derived here the way spire.sh derives them when the plan is called without them."""
    r = role_sets(args)
    units = uniq(r["cpt_speech_sets"] + r["it_asr_sets"] + r["st_sets"] + r["pseudo_st_sets"]
                 + r["valid_set"] + r["test_sets"])
    derived = {"speech_sets": uniq(r["kmeans_sets"] + units), "unit_sets": units,
               "text_sets": uniq(r["cpt_mono_sets"] + r["cpt_mt_sets"] + r["it_mt_sets"] + r["text_test_sets"])}
    for key in derived:
        given = str(getattr(args, key, "") or "").split()
        if given:
            derived[key] = given
    return derived


def roles_of_sets(args: argparse.Namespace) -> Dict[str, List[str]]:
    """Each dir -> the role options naming it, in the order of the roles."""
    out: Dict[str, List[str]] = {}
    for role, names in role_sets(args).items():
        for name in names:
            out.setdefault(name, []).append(role)
    return out


def needed_text_sets(args: argparse.Namespace, selected: set) -> List[str]:
    """Text dirs of the roles whose stages are selected (a text dir is read by no other stage)."""
    r = role_sets(args)
    return uniq([name for role, stages in TEXT_ROLES.items() if selected & set(stages) for name in r[role]])
