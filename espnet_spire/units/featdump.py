"""Stage 3: dump a bounded sample of training features for k-means, and read it back.

One job handles one key list. It keeps a hash-chosen ``portion`` of the utterances, runs the
feature extractor on them and keeps at most ``max_frames`` frames in a reservoir (see
:mod:`.sampling`), so disk and memory are bounded by ``max_frames x D`` per job whatever the
corpus size. Output dir of a job::

    feats.npy            (npy format) N x D float32, frames in key order
    utt2num_frames       uttid  number of sampled frames of that utterance
    feats.ark, feats.scp (ark format) one matrix of sampled frames per utterance (Kaldi binary)
    failed               uttid  reason   (audio that gave no features)
    feature_config.json  feature description + sampling settings + counts
    done                 marker with the job signature (a rerun skips the job)

The sample depends on the seed, the portion, ``max_frames`` and the key list of each job (a
different ``nj`` gives a different, equally valid, sample).
"""

from __future__ import annotations

import glob
import logging
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from espnet_spire.audio.wav_scp import WavEntry, load_utterance
from espnet_spire.common import jobs
from espnet_spire.common.fileio import atomic_path, read_json, write_json, write_lines
from espnet_spire.common.hashing import sha256_text_lines
from espnet_spire.units.features import FeatureExtractor
from espnet_spire.units.sampling import FrameReservoir, keep_utterance, stream_seed

logger = logging.getLogger(__name__)

FEAT_FORMATS = ("npy", "ark")


def dump_job(
    entries: Sequence[WavEntry],
    extractor: FeatureExtractor,
    output_dir: str,
    portion: float,
    max_frames: int,
    seed: int = 0,
    out_format: str = "npy",
    window: int = 32,
) -> Dict[str, object]:
    """Run one stage-3 job; returns its summary (also stored in ``done``)."""
    if out_format not in FEAT_FORMATS:
        raise ValueError(f"feature dump format must be one of {FEAT_FORMATS}, got {out_format!r}")
    if max_frames < 1:
        raise ValueError("max_frames must be >= 1: the dump is bounded on purpose")
    if not 0.0 < portion <= 1.0:
        raise ValueError(f"portion must be in (0, 1], got {portion}")
    keys_hash = sha256_text_lines(e.uttid for e in entries)
    settings = {
        "stage": "dump_ssl_feats",
        "keys_sha256": keys_hash,
        "feature": extractor.identity(),
        "feature_dtype": extractor.describe().get("dtype"),
        "chunk_seconds": extractor.describe().get("chunk_seconds"),
        "portion": portion,
        "max_frames": max_frames,
        "seed": seed,
        "format": out_format,
    }
    sig = jobs.signature(settings)
    done = jobs.finished_summary(output_dir, sig)
    if done is not None:
        return done

    chosen = [e for e in entries if keep_utterance(e.uttid, portion, seed)]
    logger.info("%s: %d of %d utterances selected (portion %.3g)", output_dir, len(chosen), len(entries), portion)
    reservoir = FrameReservoir(max_frames, extractor.dim, stream_seed(seed, keys_hash))
    failed: List[Tuple[str, str]] = []
    bar = jobs.progress(total=len(chosen), desc="features", unit="utt")
    for w in range(0, len(chosen), window):
        positions, wavs = [], []
        for pos in range(w, min(w + window, len(chosen))):
            wav, reason = load_utterance(chosen[pos])
            if reason is not None:
                failed.append((chosen[pos].uttid, reason))
            else:
                positions.append(pos)
                wavs.append(wav)
        feats = extractor(wavs) if wavs else []
        for pos, f in zip(positions, feats):
            reservoir.add(f, pos)
        bar.update(min(window, len(chosen) - w))
    bar.close()

    data, utt_idx, _ = reservoir.sorted_sample()
    counts = np.bincount(utt_idx, minlength=len(chosen)) if len(chosen) else np.zeros(0, dtype=np.int64)
    if out_format == "npy":
        with atomic_path(os.path.join(output_dir, "feats.npy")) as tmp:
            np.save(tmp, data)
        write_lines(
            os.path.join(output_dir, "utt2num_frames"),
            (f"{chosen[i].uttid} {int(c)}" for i, c in enumerate(counts) if c > 0),
        )
    else:
        _write_ark(output_dir, chosen, data, utt_idx, counts)
    write_lines(os.path.join(output_dir, "failed"), (f"{u} {r}" for u, r in failed))
    summary = {
        "utterances": len(entries),
        "selected": len(chosen),
        "failed": len(failed),
        "frames_seen": int(reservoir.seen),
        "frames_kept": int(reservoir.filled),
        "dim": extractor.dim,
    }
    write_json(
        os.path.join(output_dir, "feature_config.json"),
        {"feature": extractor.describe(), "sampling": settings, "summary": summary},
    )
    jobs.mark_done(output_dir, sig, summary)
    logger.info("%s: kept %d of %d frames", output_dir, reservoir.filled, reservoir.seen)
    return summary


def _write_ark(output_dir: str, chosen, data, utt_idx, counts) -> None:
    import kaldiio

    ark = os.path.join(output_dir, "feats.ark")
    scp = os.path.join(output_dir, "feats.scp")
    starts = np.concatenate([[0], np.cumsum(counts)])
    # the ark is renamed into place before the scp that points at it
    with atomic_path(scp) as tmp_scp, atomic_path(ark) as tmp_ark:
        with kaldiio.WriteHelper(f"ark,scp:{tmp_ark},{tmp_scp}") as writer:
            for i, c in enumerate(counts):
                if c > 0:
                    writer(chosen[i].uttid, data[starts[i] : starts[i + 1]])
        # the scp names the temporary ark: rewrite it to the final name
        with open(tmp_scp, encoding="utf-8") as f:
            lines = [line.replace(str(tmp_ark), ark) for line in f.read().splitlines()]
        write_lines(tmp_scp, lines)


# ---------------------------------------------------------------------------- reading dumps
class FrameStore:
    """Rows of several feature arrays (memory-mapped npy or loaded ark) seen as one matrix."""

    def __init__(self, arrays: List[np.ndarray]) -> None:
        arrays = [a for a in arrays if a.shape[0] > 0]
        if not arrays:
            raise ValueError("no feature frames found")
        dims = {a.shape[1] for a in arrays}
        if len(dims) != 1:
            raise ValueError(f"feature dumps have different dimensions: {sorted(dims)}")
        self.arrays = arrays
        self.dim = dims.pop()
        self.offsets = np.concatenate([[0], np.cumsum([a.shape[0] for a in arrays])]).astype(np.int64)
        self.num_frames = int(self.offsets[-1])

    def gather(self, idx: np.ndarray) -> np.ndarray:
        """Rows ``idx`` (any order) as a float32 C-contiguous array in that order."""
        idx = np.asarray(idx, dtype=np.int64)
        out = np.empty((idx.size, self.dim), dtype=np.float32)
        order = np.argsort(idx, kind="stable")
        sorted_idx = idx[order]
        which = np.searchsorted(self.offsets, sorted_idx, side="right") - 1
        for a in np.unique(which):
            sel = which == a
            out[order[sel]] = self.arrays[a][sorted_idx[sel] - self.offsets[a]]
        return out


def find_dumps(paths: Sequence[str]) -> List[str]:
    """Expand inputs to feature files: ``.npy``, ``.scp``, a job dir or a dir of ``output.*`` jobs.

    Job dirs must be finished (``done`` present); unfinished jobs are an error naming them.
    """
    files: List[str] = []
    for path in paths:
        if os.path.isfile(path):
            if not path.endswith((".npy", ".scp")):
                raise ValueError(f"{path}: expected a .npy or Kaldi .scp feature file")
            files.append(path)
            continue
        if not os.path.isdir(path):
            raise FileNotFoundError(f"feature dump not found: {path}")
        job_dirs = [path] if _job_file(path) else sorted(
            (d for d in glob.glob(os.path.join(path, "output.*")) if os.path.isdir(d)), key=_job_number
        )
        if not job_dirs:
            raise FileNotFoundError(f"{path}: no feats.npy/feats.scp and no output.* job dirs")
        unfinished = [d for d in job_dirs if jobs.read_done(d) is None]
        if unfinished:
            raise jobs.JobError(f"unfinished feature dump jobs (no 'done' marker): {', '.join(unfinished)}")
        files.extend(_job_file(d) for d in job_dirs)
    return files


def _job_file(d: str) -> Optional[str]:
    for name in ("feats.npy", "feats.scp"):
        if os.path.isfile(os.path.join(d, name)):
            return os.path.join(d, name)
    return None


def _job_number(d: str) -> Tuple[int, str]:
    suffix = d.rsplit(".", 1)[-1]
    return (int(suffix), d) if suffix.isdigit() else (1 << 30, d)


def load_store(files: Sequence[str]) -> FrameStore:
    """A :class:`FrameStore` over the given dumps; npy files are memory-mapped (no copy)."""
    arrays: List[np.ndarray] = []
    for path in files:
        if path.endswith(".npy"):
            a = np.load(path, mmap_mode="r")
            if a.ndim != 2:
                raise ValueError(f"{path}: expected an N x D matrix, got shape {a.shape}")
            arrays.append(a)
        else:
            import kaldiio

            for _, mat in kaldiio.load_scp_sequential(path):
                arrays.append(np.asarray(mat, dtype=np.float32))
    return FrameStore(arrays)


def dump_configs(files: Sequence[str]) -> List[Dict[str, object]]:
    """``feature_config.json`` next to each dump file (feature, sampling, summary), where present."""
    out = []
    for path in files:
        cfg = os.path.join(os.path.dirname(os.path.abspath(path)), "feature_config.json")
        if os.path.isfile(cfg):
            out.append(dict(read_json(cfg), file=os.path.abspath(path)))
    return out
