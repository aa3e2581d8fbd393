"""End to end: stage 3 dump -> stage 4 k-means -> stage 5 label + merge, on real AN4 speech.

Covers MFCC and a tiny random HuBERT, every bad-input kind landing in ``failed``, the failure
budget, restart of an interrupted run with byte-identical output, and set-up errors that must
stop the job with a message naming the file.
"""

import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from _units_helpers import an4_wavs, make_tiny_ssl, write_keys, write_wav_scp
from espnet_spire.bin import dump_ssl_feats, label_units, learn_kmeans
from espnet_spire.units.dsu_format import depua, dsus2indices

BAD = {"bad-empty": "empty", "bad-nan": "non_finite", "bad-short": "too_short", "bad-unreadable": "unreadable"}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A dump dir with the 8 AN4 recordings plus one file of each bad kind, split in 2 jobs."""
    root = tmp_path_factory.mktemp("data")
    audio = root / "audio"
    audio.mkdir()
    entries = list(an4_wavs())
    (audio / "unreadable.wav").write_bytes(b"RIFF this is not audio")
    sf.write(audio / "empty.wav", np.zeros(0, dtype=np.int16), 16000, subtype="PCM_16")
    sf.write(audio / "short.wav", np.full(399, 0.1, dtype=np.float32), 16000, subtype="PCM_16")
    nan = np.random.default_rng(0).normal(scale=0.1, size=8000).astype(np.float32)
    nan[100] = np.nan
    sf.write(audio / "nan.wav", nan, 16000, subtype="FLOAT")
    entries += [("bad-unreadable", str(audio / "unreadable.wav")), ("bad-empty", str(audio / "empty.wav")),
                ("bad-short", str(audio / "short.wav")), ("bad-nan", str(audio / "nan.wav"))]
    ddir = write_wav_scp(str(root / "dump"), entries)
    keys = sorted(u for u, _ in entries)
    k1 = write_keys(str(root / "keys.1.scp"), keys[0::2])
    k2 = write_keys(str(root / "keys.2.scp"), keys[1::2])
    return {"dir": ddir, "keys": [k1, k2], "paths": dict(entries), "root": root}


def read_kv(path):
    with open(path, encoding="utf-8") as f:
        return dict(line.rstrip("\n").split(" ", 1) for line in f if line.strip())


def run_stages(data, out, feat_args, k=8, label_args=(), nj=2, max_failed_ratio="0.5"):
    """Stages 3, 4, 5 + merge through the CLIs' main(); returns the set dir."""
    feats, km, logdir, units = out / "feats", out / "km", out / "logdir", out / "units"
    for j in range(1, nj + 1):
        assert dump_ssl_feats.main(["--data_dir", data["dir"], "--key_file", data["keys"][j - 1],
                                    "--output_dir", str(feats / f"output.{j}"), "--max_frames", "4000",
                                    "--portion", "1.0", *feat_args]) == 0
    assert learn_kmeans.main(["--feats", str(feats), "--output_dir", str(km), "--n_clusters", str(k),
                              "--batch_size", "64", "--max_iter", "4", "--seed", "0"]) == 0
    for j in range(1, nj + 1):
        assert label_units.main(["label", "--data_dir", data["dir"], "--key_file", data["keys"][j - 1],
                                 "--kmeans", str(km), "--output_dir", str(logdir / f"output.{j}"),
                                 *feat_args, *label_args]) == 0
    rc = label_units.main(["merge", "--logdir", str(logdir), "--nj", str(nj), "--output_dir", str(units),
                           "--max_failed_ratio", max_failed_ratio])
    assert rc == 0
    return units


def check_set(units_dir, data, k, frame_hop):
    units = read_kv(units_dir / "units")
    n_units = read_kv(units_dir / "utt2num_units")
    n_frames = read_kv(units_dir / "utt2num_frames")
    failed = read_kv(units_dir / "failed")
    assert failed == BAD  # every bad kind is listed with its reason, the rest went on
    good = sorted(u for u, _ in an4_wavs())
    assert list(units) == good  # sorted, one line per good utterance
    for u in good:
        ids = [depua(c) for c in units[u]]
        assert ids and all(0 <= i < k for i in ids)
        assert all(a != b for a, b in zip(ids, ids[1:]))  # deduplicated
        assert int(n_units[u]) == len(ids)
        n = sf.info(data["paths"][u]).frames
        assert int(n_frames[u]) == (n - 400) // frame_hop + 1
        assert len(ids) < int(n_frames[u])
    return units


def test_mfcc_end_to_end_failures_and_restart(data, tmp_path, capsys):
    out = tmp_path
    units_dir = run_stages(data, out, ["--feature_type", "mfcc"])
    check_set(units_dir, data, 8, 160)
    assert (out / "km" / "kmeans.joblib").is_file() and (out / "feats" / "output.1" / "feats.npy").is_file()
    merged = {n: (units_dir / n).read_bytes() for n in ("units", "utt2num_units", "utt2num_frames", "failed")}

    # the default failure budget (5 %) rejects 4 failures out of 12, after writing the failed list
    capsys.readouterr()
    rc = label_units.main(["merge", "--logdir", str(out / "logdir"), "--nj", "2", "--output_dir", str(out / "strict")])
    assert rc == 1 and "4 of 12 utterances failed" in capsys.readouterr().err
    assert (out / "strict" / "failed").read_bytes() == merged["failed"]

    # crash simulation: job 2 lost its outputs; job 1 must be skipped, output byte-identical
    job1_units = out / "logdir" / "output.1" / "units"
    stamp = job1_units.stat().st_mtime_ns
    os.remove(out / "logdir" / "output.2" / "done")
    os.remove(out / "logdir" / "output.2" / "units")
    rc = label_units.main(["merge", "--logdir", str(out / "logdir"), "--nj", "2", "--output_dir", str(out / "units")])
    assert rc == 1 and "unfinished" in capsys.readouterr().err
    for j in (1, 2):
        assert label_units.main(["label", "--data_dir", data["dir"], "--key_file", data["keys"][j - 1],
                                 "--kmeans", str(out / "km"), "--output_dir", str(out / "logdir" / f"output.{j}"),
                                 "--feature_type", "mfcc"]) == 0
    assert job1_units.stat().st_mtime_ns == stamp
    assert label_units.main(["merge", "--logdir", str(out / "logdir"), "--nj", "2", "--output_dir",
                             str(out / "units"), "--max_failed_ratio", "0.5"]) == 0
    for name, content in merged.items():
        assert (units_dir / name).read_bytes() == content

    # stage 3/4 reruns are skipped too
    feats1 = out / "feats" / "output.1" / "feats.npy"
    stamp = feats1.stat().st_mtime_ns
    assert dump_ssl_feats.main(["--data_dir", data["dir"], "--key_file", data["keys"][0], "--output_dir",
                                str(out / "feats" / "output.1"), "--max_frames", "4000", "--portion", "1.0",
                                "--feature_type", "mfcc"]) == 0
    assert feats1.stat().st_mtime_ns == stamp
    assert learn_kmeans.main(["--feats", str(out / "feats"), "--output_dir", str(out / "km"), "--n_clusters", "8",
                              "--batch_size", "64", "--max_iter", "4", "--seed", "0"]) == 0
    assert "already done" in capsys.readouterr().err

    # a job redone with other settings cannot be merged with the old one (two unit vocabularies)
    assert label_units.main(["label", "--data_dir", data["dir"], "--key_file", data["keys"][0], "--kmeans",
                             str(out / "km"), "--output_dir", str(out / "logdir" / "output.1"),
                             "--feature_type", "mfcc", "--dedup", "false"]) == 0
    rc = label_units.main(["merge", "--logdir", str(out / "logdir"), "--nj", "2", "--output_dir", str(out / "units")])
    assert rc == 1 and "different settings" in capsys.readouterr().err


def test_tiny_hubert_end_to_end_and_formats(data, tmp_path):
    model = make_tiny_ssl(str(tmp_path / "hubert"), "hubert", stable=True, layers=3, seed=2)
    feat = ["--feature_type", "hf_ssl", "--ssl_model", model, "--layer", "2", "--batch_size", "3"]
    units_dir = run_stages(data, tmp_path / "pua", feat, k=6)
    pua_units = check_set(units_dir, data, 6, 320)
    import json

    prov = json.loads((tmp_path / "pua" / "km" / "provenance.json").read_text())
    assert prov["feature"]["feature_type"] == "hf_ssl" and prov["feature"]["layer"] == 2
    assert prov["feature"]["weights_sha256"] and len(prov["dumps"]) == 2
    assert prov["stats"]["frames_used"] == sum(d["summary"]["frames_kept"] for d in prov["dumps"])

    # same k-means, other formats and no dedup
    km = str(tmp_path / "pua" / "km")
    for fmt, extra in (("indices", []), ("extra_id", []), ("pua", ["--dedup", "false"])):
        out = tmp_path / f"{fmt}{len(extra)}"
        for j in (1, 2):
            assert label_units.main(["label", "--data_dir", data["dir"], "--key_file", data["keys"][j - 1],
                                     "--kmeans", km, "--output_dir", str(out / f"output.{j}"),
                                     "--dsu_format", fmt, *extra, *feat]) == 0
        assert label_units.main(["merge", "--logdir", str(out), "--nj", "2", "--output_dir", str(out / "set"),
                                 "--max_failed_ratio", "0.5"]) == 0
        units = read_kv(out / "set" / "units")
        for u, text in units.items():
            ids = dsus2indices(text, fmt)
            expected = [depua(c) for c in pua_units[u]]
            if extra:
                frames = int(read_kv(out / "set" / "utt2num_frames")[u])
                assert len(ids) == frames == int(read_kv(out / "set" / "utt2num_units")[u])
                ids = [a for i, a in enumerate(ids) if i == 0 or ids[i - 1] != a]
            assert ids == expected
    indices_line = (tmp_path / "indices0" / "set" / "units").read_text().splitlines()[0]
    assert indices_line.split(" ", 1)[1].replace(" ", "").isdigit()

    # the unit files equal a direct, one-utterance-at-a-time computation
    from espnet_spire.units.assign import Assigner
    from espnet_spire.units.dsu_format import deduplicate, indices2dsus
    from espnet_spire.units.hf_ssl import HFSSLExtractor
    from espnet_spire.units.kmeans import load_kmeans

    ext = HFSSLExtractor(model, layer=2, batch_size=1)
    assigner = Assigner(load_kmeans(km).centers)
    for u, path in an4_wavs()[:3]:
        wav = sf.read(path, dtype="float32")[0]
        assert indices2dsus(deduplicate(assigner(ext([wav])[0]).tolist())) == pua_units[u]


def test_setup_errors_stop_with_file_and_line(data, tmp_path, capsys):
    model = make_tiny_ssl(str(tmp_path / "hubert"), "hubert", stable=True, layers=3, seed=2)
    mfcc_km = tmp_path / "mfcc_km"
    mfcc_km.mkdir()
    np.save(mfcc_km / "centers.npy", np.random.default_rng(0).normal(size=(8, 39)).astype(np.float32))
    base = ["label", "--data_dir", data["dir"], "--key_file", data["keys"][0]]
    hub = ["--feature_type", "hf_ssl", "--ssl_model", model, "--layer", "2"]
    capsys.readouterr()

    # k-means / feature dimension mismatch
    assert label_units.main(base + ["--kmeans", str(mfcc_km), "--output_dir", str(tmp_path / "o1"), *hub]) == 1
    err = capsys.readouterr().err
    assert "centers.npy" in err and "dimension 39" in err and "dimension 32" in err

    # k-means learnt on another layer: refused unless the check is switched off
    km = tmp_path / "km"
    feats = tmp_path / "feats" / "output.1"
    assert dump_ssl_feats.main(["--data_dir", data["dir"], "--key_file", data["keys"][0], "--output_dir",
                                str(feats), "--max_frames", "1000", *hub, "--layer", "1"]) == 0
    assert learn_kmeans.main(["--feats", str(feats), "--output_dir", str(km), "--n_clusters", "4",
                              "--batch_size", "32", "--max_iter", "2"]) == 0
    capsys.readouterr()
    assert label_units.main(base + ["--kmeans", str(km), "--output_dir", str(tmp_path / "o2"), *hub]) == 1
    assert "layer: learnt with 1, labelling with 2" in capsys.readouterr().err
    assert label_units.main(base + ["--kmeans", str(km), "--output_dir", str(tmp_path / "o3"), *hub,
                                    "--check_provenance", "false"]) == 0

    # missing audio file: wav.scp and line named
    bad_dir = tmp_path / "bad_dump"
    bad_dir.mkdir()
    (bad_dir / "wav.scp").write_text(f"a {data['paths']['fash-an251-b']}\nb /nonexistent/b.wav\n")
    capsys.readouterr()
    assert label_units.main(["label", "--data_dir", str(bad_dir), "--kmeans", str(mfcc_km), "--output_dir",
                             str(tmp_path / "o4"), "--feature_type", "mfcc", "--check_provenance", "false"]) == 1
    assert f"{bad_dir / 'wav.scp'}:2" in capsys.readouterr().err

    # key not in wav.scp: key file and line named
    keys = write_keys(str(tmp_path / "keys"), ["a", "zzz"])
    assert label_units.main(["label", "--data_dir", str(bad_dir), "--key_file", keys, "--kmeans", str(mfcc_km),
                             "--output_dir", str(tmp_path / "o5"), "--feature_type", "mfcc"]) == 1
    assert f"{keys}:2" in capsys.readouterr().err

    # missing k-means model
    assert label_units.main(base + ["--kmeans", str(tmp_path / "none"), "--output_dir", str(tmp_path / "o6"),
                                    "--feature_type", "mfcc"]) == 1
    assert "k-means model not found" in capsys.readouterr().err


def test_ark_dump_and_module_entry_points(data, tmp_path):
    out = tmp_path / "feats" / "output.1"
    assert dump_ssl_feats.main(["--data_dir", data["dir"], "--key_file", data["keys"][1], "--output_dir", str(out),
                                "--feature_type", "mfcc", "--max_frames", "300", "--out_format", "ark"]) == 0
    import kaldiio

    mats = dict(kaldiio.load_scp(str(out / "feats.scp")))
    assert sum(m.shape[0] for m in mats.values()) == 300 and all(m.shape[1] == 39 for m in mats.values())
    assert read_kv(out / "failed") == {u: r for u, r in BAD.items() if u in open(data["keys"][1]).read()}
    assert learn_kmeans.main(["--feats", str(out / "feats.scp"), "--output_dir", str(tmp_path / "km"),
                              "--n_clusters", "4", "--batch_size", "32", "--max_iter", "2"]) == 0
    for mod in ("label_units", "dump_ssl_feats", "learn_kmeans"):
        res = subprocess.run([sys.executable, "-m", f"espnet_spire.bin.{mod}", "--help"],
                             capture_output=True, text=True)
        assert res.returncode == 0 and "usage" in res.stdout
