"""English speech for the demo corpus: espeak-ng renders each sentence with one of several
voice/variant settings, speed and pitch; sox converts it to 16 kHz mono 16-bit PCM.

sox runs with -R (repeatable: fixed seeds, no time stamps) and -D (no dither) so that the same
inputs always give the same bytes. Files are written to a temporary name and renamed, so an
interrupted run leaves no half-written audio and a rerun only synthesises what is missing.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import List, Sequence

from tqdm import tqdm

from espnet_spire.common.fileio import atomic_path

log = logging.getLogger(__name__)

# espeak-ng voice+variant settings; each one is a "speaker" of the demo corpus.
VOICES = ("en-us", "en-gb", "en-us+f3", "en-gb+m3", "en-us+m7", "en-gb-x-rp+f4")
SPEED_RANGE = (140, 190)   # words per minute
PITCH_RANGE = (35, 65)     # espeak-ng pitch, 0-99 (default 50)


def speaker_id(voice: str) -> str:
    """Kaldi-friendly speaker name of a voice: 'en-gb-x-rp+f4' -> 'engbxrpf4'."""
    return "".join(ch for ch in voice if ch.isalnum())


@dataclass(frozen=True)
class SynthJob:
    text: str
    voice: str
    speed: int
    pitch: int
    path: Path

    def digest(self) -> str:
        """Short hash of what the audio depends on; part of the file name, so that a changed
        sentence or setting never reuses a stale file from an earlier run."""
        key = f"{self.text}\t{self.voice}\t{self.speed}\t{self.pitch}".encode("utf-8")
        return hashlib.sha1(key).hexdigest()[:10]


def check_tools() -> None:
    missing = [t for t in ("espeak-ng", "sox") if shutil.which(t) is None]
    if missing:
        raise RuntimeError(
            f"missing {' and '.join(missing)}: install with `apt-get install espeak-ng sox` "
            "(make install does this when run as root)"
        )


def synthesize(job: SynthJob) -> None:
    """Render one utterance (skipped when its file already exists)."""
    if job.path.exists():
        return
    job.path.parent.mkdir(parents=True, exist_ok=True)
    espeak = subprocess.run(
        ["espeak-ng", "-v", job.voice, "-s", str(job.speed), "-p", str(job.pitch), "--stdout",
         job.text],
        check=True, capture_output=True,
    )
    with atomic_path(job.path) as tmp:
        subprocess.run(
            ["sox", "-R", "-t", "wav", "-", "-D", "-r", "16000", "-c", "1", "-b", "16", "-e",
             "signed-integer", str(tmp)],
            input=espeak.stdout, check=True, capture_output=True,
        )


def synthesize_all(jobs: Sequence[SynthJob], nj: int = 2) -> None:
    check_tools()
    todo: List[SynthJob] = [j for j in jobs if not j.path.exists()]
    log.info("synthesising %d of %d utterances with %d workers", len(todo), len(jobs), nj)
    with ThreadPoolExecutor(max_workers=max(1, nj)) as pool:
        for _ in tqdm(pool.map(synthesize, todo), total=len(todo), desc="espeak-ng",
                      disable=not todo):
            pass
