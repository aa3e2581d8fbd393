"""Stage 5, one job: audio -> features -> nearest centroid -> (dedup) -> DSU strings.

For the utterances of one key list (a job split) the job writes, in key order, into its
``output_dir``::

    units            uttid<space>units     (pua: no separators; indices: space-separated ids)
    utt2num_units    uttid<space>number of units written (after dedup when it is on)
    utt2num_frames   uttid<space>number of feature frames (before dedup)
    failed           uttid<space>reason    (unreadable, empty, too_short, non_finite)
    job_info.json    feature description, k-means identity, options, counts
    done             marker with the job signature

Bad recordings go to ``failed`` and the job goes on; set-up errors (missing files, wrong sample
rate, k-means/feature mismatch) stop it with a message naming the file (and line). A finished job
is skipped on rerun when its signature (keys, the bytes of their audio, features, centroids,
options) is unchanged, so reruns after a crash redo only the unfinished jobs and give
byte-identical files. The audio is hashed, not only its ids: after a ``wav.scp`` line of
``data/<set>`` points at another recording, stage 2 rewrites that utterance's file and the one
job that reads it is redone, while the others (whose stage-2 files come out byte-identical) are
still skipped. Hashing reads the job's 16 kHz files once, far cheaper than featurising them.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass
from typing import Dict, List, Sequence, Tuple

import numpy as np

from espnet_spire.audio.wav_scp import WavEntry, load_utterance
from espnet_spire.common import jobs
from espnet_spire.common.fileio import write_json, write_lines
from espnet_spire.common.hashing import sha256_files, sha256_text_lines
from espnet_spire.units.assign import Assigner
from espnet_spire.units.dsu_format import DSU_FORMATS, deduplicate, indices2dsus
from espnet_spire.units.features import FeatureExtractor
from espnet_spire.units.kmeans import KMeansModel

logger = logging.getLogger(__name__)


@dataclass
class LabelOptions:
    """What to write and how to assign."""

    dsu_format: str = "pua"
    dedup: bool = True
    assign_backend: str = "torch"
    assign_dtype: str = "fp32"
    check_provenance: bool = True
    window: int = 32  # utterances featurised together (sorted by length inside the extractor)

    def validate(self) -> None:
        if self.dsu_format not in DSU_FORMATS:
            raise ValueError(f"dsu_format must be one of {DSU_FORMATS}, got {self.dsu_format!r}")
        if self.window < 1:
            raise ValueError("window must be >= 1")


def settings_for(extractor: FeatureExtractor, kmeans: KMeansModel, opts: LabelOptions) -> Dict[str, object]:
    """Everything except the key list that determines a job's output bytes."""
    desc = extractor.describe()
    return {
        "stage": "label_units",
        "feature": extractor.identity(),
        "feature_dtype": desc.get("dtype"),
        "chunk_seconds": desc.get("chunk_seconds"),
        "kmeans_sha256": kmeans.sha256,
        "num_units": kmeans.num_units,
        "dsu_format": opts.dsu_format,
        "dedup": opts.dedup,
        "assign_backend": opts.assign_backend,
        "assign_dtype": opts.assign_dtype,
    }


def units_to_text(labels: np.ndarray, num_units: int, opts: LabelOptions) -> Tuple[str, int]:
    """Render one utterance's frame labels; returns ``(text, number of units)``."""
    seq: List[int] = labels.tolist()
    if opts.dedup:
        seq = deduplicate(seq)
    return indices2dsus(seq, opts.dsu_format, num_units=num_units), len(seq)


def label_job(
    entries: Sequence[WavEntry],
    extractor: FeatureExtractor,
    kmeans: KMeansModel,
    output_dir: str,
    opts: LabelOptions,
) -> Dict[str, object]:
    """Label the utterances ``entries`` into ``output_dir``; returns the job summary."""
    opts.validate()
    if opts.check_provenance:
        kmeans.check_features(extractor.identity())
    else:
        kmeans.check_dim(extractor.dim)
    settings = settings_for(extractor, kmeans, opts)
    settings_sig = jobs.signature(settings)
    keys_sha = sha256_text_lines(e.uttid for e in entries)
    audio_sha = sha256_files([e.path for e in entries])
    sig = jobs.signature({"settings": settings_sig, "keys_sha256": keys_sha, "audio_sha256": audio_sha})
    done = jobs.finished_summary(output_dir, sig)
    if done is not None:
        return done

    assigner = Assigner(kmeans.centers, backend=opts.assign_backend, dtype=opts.assign_dtype,
                        device=getattr(extractor, "device", "cpu"))
    units: Dict[str, Tuple[str, int, int]] = {}
    failed: Dict[str, str] = {}
    bar = jobs.progress(total=len(entries), desc="labelling", unit="utt")
    for w in range(0, len(entries), opts.window):
        ok, wavs = [], []
        for e in entries[w : w + opts.window]:
            wav, reason = load_utterance(e, min_samples=extractor.receptive_field)
            if reason is not None:
                failed[e.uttid] = reason
            else:
                ok.append(e)
                wavs.append(wav)
        feats = extractor(wavs) if wavs else []
        for e, f in zip(ok, feats):
            text, n_units = units_to_text(assigner(f), kmeans.num_units, opts)
            units[e.uttid] = (text, n_units, int(f.shape[0]))
        bar.update(min(opts.window, len(entries) - w))
    bar.close()

    order = [e.uttid for e in entries]
    write_lines(os.path.join(output_dir, "units"), (f"{u} {units[u][0]}" for u in order if u in units))
    write_lines(os.path.join(output_dir, "utt2num_units"), (f"{u} {units[u][1]}" for u in order if u in units))
    write_lines(os.path.join(output_dir, "utt2num_frames"), (f"{u} {units[u][2]}" for u in order if u in units))
    write_lines(os.path.join(output_dir, "failed"), (f"{u} {failed[u]}" for u in order if u in failed))
    summary = {
        "settings_signature": settings_sig,
        "utterances": len(entries),
        "labelled": len(units),
        "failed": len(failed),
        "frames": int(sum(v[2] for v in units.values())),
        "units": int(sum(v[1] for v in units.values())),
    }
    write_json(
        os.path.join(output_dir, "job_info.json"),
        {
            "settings": settings,
            "feature": extractor.describe(),
            "kmeans": {"source": kmeans.source, "sha256": kmeans.sha256,
                       "num_units": kmeans.num_units, "dim": kmeans.dim},
            "options": asdict(opts),
            "summary": summary,
        },
    )
    jobs.mark_done(output_dir, sig, summary)
    logger.info("%s: %d labelled, %d failed", output_dir, len(units), len(failed))
    return summary
