"""Shared test data for the data-dir and audio tests: real AN4 recordings plus synthetic audio.

The AN4 archive is read from the shared data folder and extracted to a temporary directory;
it is never copied into the repository.
"""

from __future__ import annotations

import re
import tarfile
from pathlib import Path
from typing import Dict, Iterable, Mapping, Optional, Tuple

import numpy as np
import soundfile as sf

from _shared_data import shared_data


def extract_mini_an4(dest: Path) -> Dict[str, Tuple[Path, str]]:
    """Extract AN4 to ``dest``; return ``{spk-utt id: (sph path, transcript)}`` (7 utterances)."""
    with tarfile.open(shared_data("mini_an4", "downloads.tar.gz")) as tar:
        tar.extractall(dest, filter="data")
    etc = dest / "downloads" / "an4" / "etc"
    texts: Dict[str, str] = {}
    for name in ("an4_train.transcription", "an4_test.transcription"):
        for line in (etc / name).read_text().splitlines():
            m = re.match(r"^(?:<s>)?\s*(.*?)\s*(?:</s>)?\s*\(([^)]+)\)\s*$", line)
            assert m, line
            texts[m.group(2)] = m.group(1)
    out: Dict[str, Tuple[Path, str]] = {}
    for sph in sorted((dest / "downloads" / "an4" / "wav").rglob("*.sph")):
        file_id = sph.stem  # e.g. an251-fash-b
        if file_id not in texts:
            continue
        spk = sph.parent.name
        utt = f"{spk}-{file_id.replace('-' + spk, '')}"  # fash-an251-b
        out[utt] = (sph, texts[file_id])
    assert len(out) == 7, sorted(out)
    return out


def sine(rate: int, seconds: float, channels: int = 1, freq: float = 440.0) -> np.ndarray:
    """A float32 sine (channels get different phases so a downmix is not trivial)."""
    t = np.arange(int(round(rate * seconds))) / rate
    cols = [0.5 * np.sin(2 * np.pi * freq * t + c) for c in range(channels)]
    data = np.stack(cols, axis=1).astype(np.float32)
    return data[:, 0] if channels == 1 else data


def write_wav(path: Path, data: np.ndarray, rate: int, subtype: str = "PCM_16", **kw) -> Path:
    """Write audio with soundfile and return the path."""
    sf.write(str(path), data, rate, subtype=subtype, **kw)
    return path


def write_lines(path: Path, lines: Iterable[str]) -> None:
    """Write lines verbatim (the tests control the order)."""
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def byte_sorted(keys: Iterable[str]) -> list:
    """LC_ALL=C order."""
    return sorted(keys, key=lambda k: k.encode("utf-8"))


def make_data_dir(
    path: Path,
    wav: Mapping[str, str],
    spk: Mapping[str, str],
    text: Optional[Mapping[str, str]] = None,
    segments: Optional[Mapping[str, Tuple[str, float, float]]] = None,
    extra: Optional[Mapping[str, Mapping[str, str]]] = None,
) -> Path:
    """Write a correctly sorted Kaldi data dir (wav.scp, utt2spk, spk2utt, text, ...)."""
    path.mkdir(parents=True, exist_ok=True)
    write_lines(path / "wav.scp", [f"{k} {wav[k]}" for k in byte_sorted(wav)])
    write_lines(path / "utt2spk", [f"{u} {spk[u]}" for u in byte_sorted(spk)])
    spk2utt: Dict[str, list] = {}
    for u in byte_sorted(spk):
        spk2utt.setdefault(spk[u], []).append(u)
    write_lines(path / "spk2utt", [f"{s} {' '.join(spk2utt[s])}" for s in byte_sorted(spk2utt)])
    if text is not None:
        write_lines(path / "text", [f"{u} {text[u]}" for u in byte_sorted(text)])
    if segments is not None:
        rows = [(u, *segments[u]) for u in byte_sorted(segments)]
        write_lines(path / "segments", [f"{u} {r} {s} {e}" for u, r, s, e in rows])
    for name, table in (extra or {}).items():
        write_lines(path / name, [f"{u} {table[u]}" for u in byte_sorted(table)])
    return path


def an4_data_dir(path: Path, an4: Mapping[str, Tuple[Path, str]]) -> Path:
    """A data dir holding the AN4 utterances as plain sph paths."""
    wav = {u: str(p) for u, (p, _) in an4.items()}
    spk = {u: u.split("-")[0] for u in an4}
    text = {u: t for u, (_, t) in an4.items()}
    return make_data_dir(path, wav, spk, text)
