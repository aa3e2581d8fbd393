"""The bottom layer (espnet_spire.common): atomic writes, done markers, merges, the failure
budget, registries and option types, including the messages of their failing paths."""

from __future__ import annotations

import argparse

import pytest

from espnet_spire.common import jobs
from espnet_spire.common.cli import optional_bool, split_words, str2bool
from espnet_spire.common.fileio import atomic_open, read_json, write_json, write_lines
from espnet_spire.common.hashing import sha256_file, sha256_files, sha256_text_lines
from espnet_spire.common.kaldi_dir import KaldiFormatError, read_kaldi_dict
from espnet_spire.common.registry import Registry


def test_atomic_open_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old\n")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_open(target) as f:
            f.write("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_write_lines_and_json(tmp_path):
    write_lines(tmp_path / "a", ["x 1", "y 2"])
    assert (tmp_path / "a").read_bytes() == b"x 1\ny 2\n"
    write_json(tmp_path / "b.json", {"b": 1, "a": "\u00e9"})
    assert (tmp_path / "b.json").read_text(encoding="utf-8") == '{\n  "a": "\u00e9",\n  "b": 1\n}\n'
    assert read_json(tmp_path / "b.json") == {"a": "\u00e9", "b": 1}


def test_hashes(tmp_path):
    (tmp_path / "f").write_bytes(b"abc")
    assert sha256_file(tmp_path / "f") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert sha256_files([tmp_path / "f", tmp_path / "missing"]) != sha256_files([tmp_path / "f"])
    assert sha256_text_lines(["a", "b"]) != sha256_text_lines(["ab"])


def test_done_markers(tmp_path):
    assert not jobs.is_done(tmp_path, "sig1")
    jobs.mark_done(tmp_path, "sig1", {"n": 3})
    assert jobs.is_done(tmp_path, "sig1") and not jobs.is_done(tmp_path, "sig2")
    assert jobs.read_done(tmp_path) == {"signature": "sig1", "summary": {"n": 3}}
    (tmp_path / jobs.DONE_NAME).write_text("{not json")
    assert jobs.read_done(tmp_path) is None and jobs.unfinished([tmp_path]) == [str(tmp_path)]
    jobs.clear_done(tmp_path)
    assert not (tmp_path / jobs.DONE_NAME).exists()


def test_merge_pieces_refuses_an_id_in_two_jobs(tmp_path):
    for j, rows in ((1, ["a x", "b y"]), (2, ["c z", "a w"])):
        (tmp_path / f"j{j}").mkdir()
        write_lines(tmp_path / f"j{j}" / "piece", rows)
    dirs = [tmp_path / "j1", tmp_path / "j2"]
    with pytest.raises(jobs.JobError, match=r"'a' appears in two jobs \(.*j1/piece and .*j2/piece\)"):
        jobs.merge_pieces(dirs, "piece", read_kaldi_dict)


def test_failure_budget_message(tmp_path):
    assert jobs.check_failure_budget(1, 20, 0.05, tmp_path / "failed") == 0.05
    with pytest.raises(jobs.TooManyFailedError, match=r"2 of 20 utterances failed \(10.0% > --max_failed_ratio 5.0%\)"):
        jobs.check_failure_budget(2, 20, 0.05, tmp_path / "failed")
    assert jobs.failed_ratio(0, 0) == 0.0


def test_registry():
    reg: Registry[int] = Registry("widget")
    reg.register("a")(1)
    reg.register("b")(2)
    assert reg.names() == ("a", "b") and reg.get("b") == 2 and "a" in reg
    with pytest.raises(ValueError, match=r"unknown widget 'c'; choose one of \('a', 'b'\)"):
        reg.get("c")
    with pytest.raises(ValueError, match="widget 'a' is registered twice"):
        reg.register("a")(3)


def test_parse_errors_name_the_line(tmp_path):
    (tmp_path / "segments").write_text("u1 rec 0 1\nu2 rec zero 1\n")
    from espnet_spire.audio.wav_scp import parse_segment

    with pytest.raises(KaldiFormatError, match=r"segments:2: start/end are not numbers"):
        read_kaldi_dict(tmp_path / "segments", parse=parse_segment)


def test_option_types():
    assert str2bool("true") and not str2bool("off")
    assert optional_bool("auto") is None and optional_bool("yes") is True
    assert split_words(["de fr", "es,it"]) == ["de", "fr", "es", "it"]
    parser = argparse.ArgumentParser()
    parser.add_argument("--flag", type=str2bool)
    with pytest.raises(SystemExit):
        parser.parse_args(["--flag", "maybe"])


def test_feature_extractor_registry():
    from espnet_spire.units.extractors import FEATURE_EXTRACTORS, build_extractor
    from espnet_spire.units.features import FeatureConfig

    assert FEATURE_EXTRACTORS.names() == ("mfcc", "mfcc50", "hf_ssl")
    with pytest.raises(ValueError, match=r"unknown feature type 'wav2vec'; choose one of"):
        build_extractor(FeatureConfig(feature_type="wav2vec"))


def test_backend_registries():
    import numpy as np

    from espnet_spire.units.assign import ASSIGN_BACKENDS, Assigner
    from espnet_spire.units.kmeans import KMEANS_BACKENDS, KMeansConfig

    assert ASSIGN_BACKENDS.names() == ("torch", "faiss")
    assert KMEANS_BACKENDS.names() == ("sklearn", "faiss")
    with pytest.raises(ValueError, match="unknown assignment backend 'gpu'"):
        Assigner(np.eye(2, dtype=np.float32), backend="gpu")
    with pytest.raises(ValueError, match="unknown k-means backend 'x'"):
        KMeansConfig(n_clusters=2, batch_size=2, backend="x").validate(10)
    with pytest.raises(ValueError, match="the faiss backend computes in fp32 only"):
        Assigner(np.eye(2, dtype=np.float32), backend="faiss", dtype="bf16")


def test_run_cli_turns_expected_errors_into_status_1(caplog):
    import logging

    from espnet_spire.common.cli import run_cli

    log = logging.getLogger("test_run_cli")

    def fail():
        raise jobs.JobError("cannot merge: unfinished labelling jobs")

    assert run_cli(lambda: None, log) == 0
    with caplog.at_level(logging.ERROR):
        assert run_cli(fail, log) == 1
    assert "cannot merge: unfinished labelling jobs" in caplog.text
    with pytest.raises(KeyError):  # anything else is a bug: keep the traceback
        run_cli(lambda: {}["x"], log)
