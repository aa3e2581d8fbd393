"""Join the per-pair dirs of one ST corpus into one dir that carries every pair.

CoVoST-2, FLEURS and Europarl-ST are prepared one dir per language pair (``text.tc.<xx>`` each),
and the pair dirs of a corpus share their utterances (CoVoST-2 en-de and en-zh read the same
clips). A recipe role combines dirs of different corpora, where a shared id is an error
(:mod:`espnet_spire.data.combine`), so the pairs of one corpus are first joined here into one dir
carrying every ``text.tc.<lang>``. A Kaldi dir's per-utterance files cover every utterance (the
data-dir checker insists), so the joined dir keeps the utterances found in every pair dir and
lists the others in ``skipped`` (``not_in_every_pair``); an utterance's other files must agree
between the pair dirs.
"""

from __future__ import annotations

import glob
import os
from typing import Dict, List, Sequence

from espnet_spire.common.fileio import PathLike, write_json, write_lines
from espnet_spire.common.kaldi_dir import read_kaldi_dict, sort_key, utt2spk_to_spk2utt, write_kaldi_file, write_spk2utt
from espnet_spire.data.combine import FACTS_FILE, PER_UTT_FILES


def _union(name: str, src_dirs: Sequence[str]) -> Dict[str, str]:
    """``{id: value}`` of ``name`` over the sources; an id with two different values raises."""
    out: Dict[str, str] = {}
    origin: Dict[str, str] = {}
    for d in src_dirs:
        path = os.path.join(d, name)
        if not os.path.isfile(path):
            continue
        for key, value in read_kaldi_dict(path).items():
            if key in out and out[key] != value:
                raise ValueError(f"'{key}' differs in {origin[key]}/{name} and {d}/{name}: "
                                 f"pair dirs joined into one must describe the same utterance alike")
            out.setdefault(key, value)
            origin.setdefault(key, d)
    return out


def join_pair_dirs(out_dir: PathLike, src_dirs: Sequence[str]) -> Dict[str, object]:
    """Write the utterances common to the pair dirs ``src_dirs`` into ``out_dir``; returns its facts."""
    missing = [d for d in src_dirs if not os.path.isdir(d)]
    if missing:
        raise FileNotFoundError(f"cannot join: missing data dir(s): {' '.join(missing)}")
    os.makedirs(out_dir, exist_ok=True)
    per_dir = [set(read_kaldi_dict(os.path.join(d, "text"))) for d in src_dirs]
    common = set.intersection(*per_dir)
    dropped = sorted(set.union(*per_dir) - common, key=sort_key)
    langs = sorted({os.path.basename(p) for d in src_dirs for p in glob.glob(os.path.join(d, "text.tc.*"))})
    counts: Dict[str, int] = {}
    names: List[str] = [n for n in PER_UTT_FILES if any(os.path.isfile(os.path.join(d, n)) for d in src_dirs)]
    for name in names + langs:
        items = {k: v for k, v in _union(name, src_dirs).items() if k in common}
        write_kaldi_file(os.path.join(out_dir, name), items)
        counts[name] = len(items)
        if name == "utt2spk":
            write_spk2utt(os.path.join(out_dir, "spk2utt"), utt2spk_to_spk2utt(items))
    write_lines(os.path.join(out_dir, "skipped"), [f"{k} not_in_every_pair" for k in dropped])
    facts = {"sources": list(src_dirs), "lines": counts, "utterances": len(common), "skipped": len(dropped)}
    write_json(os.path.join(out_dir, FACTS_FILE), facts)
    return facts


def tag_pair_dir(out_dir: PathLike, src_dir: str, tag: str) -> Dict[str, object]:
    """Copy one pair dir into ``out_dir`` with every utterance and recording id suffixed ``-<tag>``.

    For a corpus whose pair dirs hold different utterances (Europarl-ST), joining would lose
    data; tagged copies of its pair dirs never share an id, so a role may combine them.
    """
    if not os.path.isdir(src_dir):
        raise FileNotFoundError(f"cannot tag: missing data dir {src_dir}")
    os.makedirs(out_dir, exist_ok=True)
    suffix = f"-{tag}"
    names = [n for n in PER_UTT_FILES if os.path.isfile(os.path.join(src_dir, n))]
    names += sorted(os.path.basename(p) for p in glob.glob(os.path.join(src_dir, "text.tc.*")))
    counts: Dict[str, int] = {}
    for name in names:
        items = read_kaldi_dict(os.path.join(src_dir, name))
        if name == "segments":   # "<recording> <start> <end>": the recording id is tagged too
            items = {k: f"{v.split(' ', 1)[0]}{suffix} {v.split(' ', 1)[1]}" for k, v in items.items()}
        write_kaldi_file(os.path.join(out_dir, name), {k + suffix: v for k, v in items.items()})
        counts[name] = len(items)
        if name == "utt2spk":
            write_spk2utt(os.path.join(out_dir, "spk2utt"),
                          utt2spk_to_spk2utt({k + suffix: v for k, v in items.items()}))
    write_lines(os.path.join(out_dir, "skipped"), [])
    facts = {"sources": [src_dir], "tag": tag, "lines": counts, "utterances": counts.get("text", 0)}
    write_json(os.path.join(out_dir, FACTS_FILE), facts)
    return facts
