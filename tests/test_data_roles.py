"""Data roles of spire.sh (issue #11): each role names its own data dirs; several dirs of one role
are combined (espnet_spire.data.combine); a speech dir in several roles is processed once; a
text-only test set is decoded on MT tasks only; a role naming a missing dir stops before any work.

The recipe tests run spire.sh on a scratch copy of the demo recipe with tiny hand-written data
dirs and a stand-in ``--python`` that logs every command, runs the real combine step and writes
the files the other steps would (so they take a second, not a model)."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from espnet_spire.data.combine import FACTS_FILE, combine_data_dirs
from recipe_paths import DEMO, ROOT, copy_recipe


def _write(path: Path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{x}\n" for x in lines), encoding="utf-8")


def _speech_dir(root: Path, name: str, utts, langs=()):
    d = root / name
    _write(d / "wav.scp", [f"{u} /nowhere/{u}.wav" for u in utts])
    _write(d / "text", [f"{u} words of {u}" for u in utts])
    _write(d / "utt2spk", [f"{u} {u.split('-')[0]}" for u in utts])
    for lang in langs:
        _write(d / f"text.tc.{lang}", [f"{u} {lang} of {u}" for u in utts])
    return d


# ---------------------------------------------------------------- the combine helper
def test_combine_merges_in_byte_order_and_records_sources(tmp_path):
    a = _speech_dir(tmp_path, "a", ["s1-b", "s1-d"], langs=["de"])
    b = _speech_dir(tmp_path, "b", ["S2-a", "s1-c"], langs=["fr"])
    units = [tmp_path / "ua", tmp_path / "ub"]
    _write(units[0], ["s1-b \ue000", "s1-d \ue001"])
    _write(units[1], ["S2-a \ue002", "s1-c \ue003"])
    out = tmp_path / "roles/st"
    facts = combine_data_dirs(out, [str(a), str(b)], [str(u) for u in units])
    assert (out / "text").read_bytes() == (b"S2-a words of S2-a\ns1-b words of s1-b\n"
                                           b"s1-c words of s1-c\ns1-d words of s1-d\n")
    # a language file holds the utterances of the dirs that have that pair only
    assert (out / "text.tc.de").read_text() == "s1-b de of s1-b\ns1-d de of s1-d\n"
    assert (out / "text.tc.fr").read_text() == "S2-a fr of S2-a\ns1-c fr of s1-c\n"
    assert (out / "units").read_text() == "S2-a \ue002\ns1-b \ue000\ns1-c \ue003\ns1-d \ue001\n"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [FACTS_FILE, "text", "text.tc.de", "text.tc.fr", "units", "utt2spk", "wav.scp"])
    recorded = json.loads((out / FACTS_FILE).read_text())
    assert recorded == facts
    assert [s["dir"] for s in recorded["sources"]] == [str(a), str(b)]
    assert recorded["sources"][0]["files"]["text.tc.de"] == str(a / "text.tc.de")
    assert "text.tc.de" not in recorded["sources"][1]["files"]
    assert recorded["lines"] == {"text": 4, "text.tc.de": 2, "text.tc.fr": 2, "units": 4,
                                 "utt2spk": 4, "wav.scp": 4}


def test_combine_rerun_drops_files_of_an_earlier_combination(tmp_path):
    a = _speech_dir(tmp_path, "a", ["x-1"], langs=["de"])
    b = _speech_dir(tmp_path, "b", ["y-1"], langs=["fr"])
    c = _speech_dir(tmp_path, "c", ["z-1"])
    out = tmp_path / "out"
    combine_data_dirs(out, [str(a), str(b)])
    combine_data_dirs(out, [str(b), str(c)])
    assert not (out / "text.tc.de").exists()
    assert (out / "text").read_text() == "y-1 words of y-1\nz-1 words of z-1\n"


def test_combine_refuses_an_utterance_in_two_dirs(tmp_path):
    a = _speech_dir(tmp_path, "a", ["x-1", "x-2"])
    b = _speech_dir(tmp_path, "b", ["x-2"])
    with pytest.raises(ValueError, match=rf"id 'x-2' is in both {a}/text and {b}/text: "
                                         "the combined sets must not share utterances"):
        combine_data_dirs(tmp_path / "out", [str(a), str(b)])


def test_combine_refuses_an_unsorted_file(tmp_path):
    a = _speech_dir(tmp_path, "a", ["x-1"])
    b = tmp_path / "b"
    _write(b / "text", ["y-2 two", "y-1 one"])
    with pytest.raises(ValueError, match=rf"{b}/text:2: not sorted by id \(LC_ALL=C sort\)"):
        combine_data_dirs(tmp_path / "out", [str(a), str(b)])


def test_combine_cli_names_missing_units(tmp_path):
    a = _speech_dir(tmp_path, "a", ["x-1"])
    b = _speech_dir(tmp_path, "b", ["y-1"])
    out = subprocess.run([sys.executable, "-m", "espnet_spire.bin.combine_data_dirs", "--output_dir",
                          str(tmp_path / "out"), "--units_root", str(tmp_path / "dump/units"), str(a), str(b)],
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 1
    assert f"cannot combine: missing units file(s) (run stage 5): {tmp_path}/dump/units/a/units" in out.stderr


# ---------------------------------------------------------------- spire.sh with the roles
STUB = f"""#!{sys.executable}
# Stand-in for --python: logs the command; runs the real combine and decode-merge steps; fakes the
# outputs of the other steps that spire.sh reads back.
import json, os, runpy, shutil, sys
args = sys.argv[1:]
with open(os.environ["STUB_LOG"], "a") as f:
    f.write(json.dumps(args) + "\\n")
mod = args[1] if args[:1] == ["-m"] else ""
opts = {{args[i]: args[i + 1] for i in range(len(args) - 1) if args[i].startswith("--")}}
if mod in ("espnet_spire.bin.combine_data_dirs", "espnet_spire.bin.merge_decode_jobs"):
    sys.argv = [mod] + args[2:]
    runpy.run_module(mod, run_name="__main__")
def rows(flag):
    with open(opts[flag]) as f:
        return [line.rstrip("\\n").split("\\t") for line in f if line.strip()]
if mod == "espnet_spire.bin.format_wav_scp" and "--merge" in args:
    for data_dir, out_dir, _ in rows("--merge_list"):
        shutil.copy(os.path.join(data_dir, "wav.scp"), os.path.join(out_dir, "wav.scp"))
elif mod == "espnet_spire.bin.label_units" and args[2] == "merge":
    for logdir, _, out_dir in rows("--merge_list"):
        raw = logdir.replace("/units/", "/raw/").rsplit("/logdir", 1)[0]
        with open(os.path.join(raw, "wav.scp")) as f, open(os.path.join(out_dir, "units"), "w") as u:
            u.writelines(line.split()[0] + " \\ue000\\n" for line in f)
        open(os.path.join(out_dir, "failed"), "w").close()
elif mod == "espnet_spire.bin.spire_lm_decode":
    for out_dir, keys, _, _, tasks in rows("--job_list"):
        for t in tasks.split():
            os.makedirs(os.path.join(out_dir, t), exist_ok=True)
            shutil.copy(keys, os.path.join(out_dir, t, "text"))
            open(os.path.join(out_dir, t, "prompts.jsonl"), "w").close()
"""


@pytest.fixture
def recipe(tmp_path):
    """A scratch demo recipe with speech dirs a, b (train), v (valid), t (test), text dirs mt and
    flores (text-only test), and the logging stand-in for --python."""
    work = copy_recipe(DEMO, tmp_path / "spire1")
    data = work / "data"
    _speech_dir(data, "a", ["a-1", "a-2"], langs=["de"])
    _speech_dir(data, "b", ["b-1"], langs=["fr"])
    _speech_dir(data, "v", ["v-1"], langs=["de", "en"])
    _speech_dir(data, "t", ["t-1", "t-2"], langs=["de", "en", "fr"])
    for name, langs in (("mt", ["en", "de"]), ("flores", ["en", "de", "fr"])):
        for lang in langs:
            _write(data / name / f"text.tc.{lang}", [f"{name}-1 {lang} one", f"{name}-2 {lang} two"])
    stub = tmp_path / "python_stub"
    stub.write_text(STUB)
    stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    return work, stub, tmp_path / "stub.log"


ROLES = ["--train_set", "", "--kmeans_sets", "a b", "--cpt_speech_sets", "a b", "--it_asr_sets", "a",
         "--st_sets", "a b", "--pseudo_st_sets", "b", "--valid_set", "v", "--test_sets", "t",
         "--mt_train_set", "mt", "--mono_set", "", "--text_test_sets", "flores", "--nj", "1"]


def _run(recipe, *args):
    work, stub, log = recipe
    env = {**os.environ, "PYTHONPATH": str(ROOT), "STUB_LOG": str(log)}
    out = subprocess.run(["./run.sh", "--python", str(stub), *ROLES, *args], cwd=work, env=env,
                         capture_output=True, text=True)
    calls = [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []
    return out, calls


def _calls(calls, module, *flags):
    return [c for c in calls if c[:2] == ["-m", module] and all(f in c for f in flags)]


def _rows(work, call, flag):
    """The tab-separated lines of the job list a call was given (JOB already substituted)."""
    lines = (work / call[call.index(flag) + 1]).read_text().splitlines()
    return [line.split("\t") for line in lines if line.strip()]


def test_every_speech_dir_is_processed_once_and_kmeans_reads_its_sets(recipe):
    work = recipe[0]
    out, calls = _run(recipe, "--stage", "2", "--stop_stage", "5")
    assert out.returncode == 0, out.stderr
    assert "Data roles: speech sets (stages 2-5): a b v t" in out.stderr
    merges = _calls(calls, "espnet_spire.bin.format_wav_scp", "--merge")
    assert len(merges) == 1      # one process merges every set
    merged = [r[0] for r in _rows(work, merges[0], "--merge_list")]
    assert merged == ["data/a", "data/b", "data/v", "data/t"]
    jobs = _calls(calls, "espnet_spire.bin.format_wav_scp", "--job_list")
    assert len(jobs) == 1        # --nj 1: one job formats the four sets
    formatted = [r[2] for r in _rows(work, jobs[0], "--job_list")]
    assert formatted == ["dump/raw/a", "dump/raw/b", "dump/raw/v", "dump/raw/t"]
    merges = _calls(calls, "espnet_spire.bin.label_units", "merge")
    assert len(merges) == 1
    labelled = [r[2] for r in _rows(work, merges[0], "--merge_list")]
    assert labelled == ["dump/units/a", "dump/units/b", "dump/units/v", "dump/units/t"]
    feats = _calls(calls, "espnet_spire.bin.dump_ssl_feats")
    assert feats and all(c[c.index("--data_dir") + 1] == "dump/roles/kmeans" for c in feats)
    kmeans = work / "dump/roles/kmeans"
    assert (kmeans / "wav.scp").read_text() == ("a-1 /nowhere/a-1.wav\na-2 /nowhere/a-2.wav\n"
                                                "b-1 /nowhere/b-1.wav\n")
    facts = json.loads((kmeans / FACTS_FILE).read_text())
    assert [s["dir"] for s in facts["sources"]] == ["dump/raw/a", "dump/raw/b"]


def test_it_roles_with_several_dirs_are_combined(recipe):
    work = recipe[0]
    out, _ = _run(recipe, "--stage", "2", "--stop_stage", "5")
    assert out.returncode == 0, out.stderr
    out, calls = _run(recipe, "--stage", "10", "--stop_stage", "10", "--variants", "spirebase spirefull")
    assert out.returncode == 0, out.stderr
    st = work / "dump/roles/st"
    assert (st / "text.tc.de").read_text() == "a-1 de of a-1\na-2 de of a-2\n"
    assert (st / "text.tc.fr").read_text() == "b-1 fr of b-1\n"
    assert (st / "units").read_text() == "a-1 \ue000\na-2 \ue000\nb-1 \ue000\n"
    assert [s["dir"] for s in json.loads((st / FACTS_FILE).read_text())["sources"]] == ["data/a", "data/b"]
    assert not (work / "dump/roles/it_asr").exists()          # one dir: read in place
    train = [c for c in _calls(calls, "espnet_spire.bin.make_it_data") if "dump/lm/it/spirefull/train" in c]
    assert len(train) == 1
    vars_ = dict(v.split("=", 1) for i, v in enumerate(train[0]) if train[0][i - 1] == "--var")
    assert vars_["st_dir"] == "dump/roles/st" and vars_["st_units"] == "dump/roles/st/units"
    assert vars_["it_asr_dir"] == "data/a" and vars_["it_asr_units"] == "dump/units/a/units"
    assert vars_["pseudo_st_dir"] == "data/b" and vars_["it_mt_dir"] == "data/mt"
    assert train[0][train[0].index("--pseudo_dir") + 1] == "dump/pseudo_st/b"


def test_text_only_test_set_is_decoded_on_mt_tasks_only(recipe):
    work = recipe[0]
    out, calls = _run(recipe, "--stage", "12", "--stop_stage", "12", "--variants", "spirefull",
                      "--decode_base", "false", "--copy_baseline", "false")
    assert out.returncode == 0, out.stderr
    decode = work / "exp/train_it_demo/spirefull/decode_greedy"
    assert sorted(p.name for p in (decode / "flores").iterdir() if p.name != "logdir") == [
        "mt_de_en", "mt_en_de", "mt_en_fr", "mt_fr_en"]
    assert (decode / "flores/mt_en_de/text").read_text() == "flores-1 en one\nflores-2 en two\n"
    decode_calls = _calls(calls, "espnet_spire.bin.spire_lm_decode")
    flores_rows = [r for c in decode_calls for r in _rows(work, c, "--job_list") if r[3] == "data/flores"]
    assert flores_rows and all(r[2] == "-" for r in flores_rows)     # no units for a text-only set
    assert len(decode_calls) == len({c[c.index("--job_list") + 1] for c in decode_calls})
    assert "data/flores cannot serve task asr (no input or reference): skipped" in out.stderr
    assert "data/flores cannot serve task st_de (no input or reference): skipped" in out.stderr
    # the speech test set keeps its speech tasks, and loses only the pairs it has no reference for
    assert {"asr", "st_de", "st_fr", "mt_en_de", "mt_fr_en"} <= {p.name for p in (decode / "t").iterdir()}
    assert not (decode / "t/st_ko").exists()
    # stage 13 scores the text-only set's MT tasks against its own references
    out, calls = _run(recipe, "--stage", "13", "--stop_stage", "13", "--variants", "spirefull",
                      "--decode_base", "false", "--copy_baseline", "false")
    assert out.returncode == 0, out.stderr
    scoring = _calls(calls, "espnet_spire.bin.score_decode_dir")
    assert len(scoring) == 1     # one process scores every decode dir
    refs = {r[0].split("/flores/")[1]: r[1] for r in _rows(work, scoring[0], "--list") if "/flores/" in r[0]}
    assert refs == {"mt_de_en": "data/flores/text.tc.en", "mt_en_de": "data/flores/text.tc.de",
                    "mt_en_fr": "data/flores/text.tc.fr", "mt_fr_en": "data/flores/text.tc.en"}


def test_a_role_naming_a_missing_dir_stops_before_any_work(recipe):
    work = recipe[0]
    out, calls = _run(recipe, "--stage", "2", "--stop_stage", "5", "--cpt_speech_sets", "a nope",
                      "--it_mt_sets", "gone")
    assert out.returncode == 2
    assert "Error: data dirs named by the data roles are missing (nothing was started):" in out.stderr
    assert "--cpt_speech_sets nope: data/nope/wav.scp not found" in out.stderr
    assert "--it_mt_sets gone: no data/gone/text.tc.<lang>" in out.stderr
    assert calls == [] and not (work / "dump").exists()
