"""Fault injection, issue #15 (silent data loss or corruption): each test feeds the bad input or
the interrupted/changed run that once lost data while every stage reported success, and checks
that the loss is now either avoided or stated (a reason in ``skipped``, a non-zero exit)."""

from __future__ import annotations

import os

import numpy as np
import pytest

import lm_fixtures as F

pytestmark = pytest.mark.fault

K = 50
MAX_POSITIONS = 160


# ------------------------------------------------------------------ 1: an over-long decode prompt


@pytest.fixture(scope="module")
def short_model(tmp_path_factory):
    """A tiny instruct model whose position table ends at MAX_POSITIONS (units of 3-40 fit, 200 do not)."""
    from espnet_spire.lm.decode import load_model_and_tokenizer

    root = str(tmp_path_factory.mktemp("faults_decode"))
    built = F.build_tokenizers(root, num_units=K)
    model_dir = F.save_tiny_model(os.path.join(root, "model"), built["tok_instruct"], seed=11)
    model, tok = load_model_and_tokenizer(model_dir, device="cpu")
    model.config.max_position_embeddings = MAX_POSITIONS
    return model, tok, root


def _units_file(path: str, lengths) -> str:
    rng = np.random.default_rng(5)
    with open(path, "w", encoding="utf-8") as f:
        for i, n in enumerate(lengths):
            f.write(f"u{i:02d} {F.random_units(rng, n, K)}\n")
    return path


def test_overlong_prompt_is_skipped_alone(short_model, tmp_path):
    """One prompt beyond the model's positions used to empty every hypothesis of its batch."""
    from espnet_spire.lm.decode import DecodeConfig, decode_task

    model, tok, _ = short_model
    lengths = [12, 30, 400, 8, 25, 17]  # u02 cannot fit: 400 units > 160 positions
    with_long = _units_file(str(tmp_path / "units_all"), lengths)
    cfg = DecodeConfig(batch_size=8, max_new_tokens=12)  # one batch holds them all
    info = decode_task(model, tok, "asr", with_long, str(tmp_path / "all"), cfg)
    # the same utterances without the long one
    rows = open(with_long, encoding="utf-8").read().splitlines()
    without = str(tmp_path / "units_short")
    with open(without, "w", encoding="utf-8") as f:
        f.write("".join(r + "\n" for r in rows if not r.startswith("u02 ")))
    decode_task(model, tok, "asr", without, str(tmp_path / "short"), cfg)

    text = (tmp_path / "all" / "text").read_text(encoding="utf-8")
    assert text == (tmp_path / "short" / "text").read_text(encoding="utf-8")
    hyps = dict((line.split(" ", 1) + [""])[:2] for line in text.splitlines())
    assert "u02" not in hyps and len(hyps) == 5 == info["utterances"]
    assert sum(len(h) for h in hyps.values()) > 0  # the batch was really decoded
    skipped = (tmp_path / "all" / "skipped").read_text(encoding="utf-8").splitlines()
    assert len(skipped) == 1 and skipped[0].startswith("u02 too_long prompt has ")
    assert f"the model has {MAX_POSITIONS} positions" in skipped[0]
    assert info["skipped"] == 1


def test_budget_is_per_prompt(short_model):
    """A prompt near the end of the positions limits its own row only, not its neighbours'."""
    from espnet_spire.lm import prompts as P
    from espnet_spire.lm.decode import DecodeConfig, GreedyDecoder

    model, tok, _ = short_model
    rng = np.random.default_rng(3)
    dec = GreedyDecoder(model, tok, DecodeConfig(batch_size=2, max_new_tokens=20, stop_at_newline=False))
    short = dec.encode(P.render_chat(P.user_turn(P.asr_prompt(F.random_units(rng, 5, K)))))
    near = list(short)
    while len(near) < MAX_POSITIONS - 3:
        near.insert(1, short[1])
    assert dec.budget(len(near)) == 3 and dec.budget(len(short)) == 20
    assert dec.too_long(near) is None and dec.too_long(near + [1] * 3) is not None
    alone = dec.generate_ids([short])[0]
    assert len(alone) > 3  # the test needs a row longer than the neighbour's budget
    both = dec.generate_ids([short, near])
    assert both[0] == alone and len(both[1]) <= 3


# ------------------------------------------------------------------ 7: stale decode job outputs


def _job(logdir, j: int, task: str, hyps: dict, skipped: str = "") -> None:
    d = logdir / f"output.{j}" / task
    d.mkdir(parents=True, exist_ok=True)
    (d / "text").write_text("".join(f"{k} {v}\n" for k, v in hyps.items()), encoding="utf-8")
    (d / "prompts.jsonl").write_text("".join(f'{{"key": "{k}"}}\n' for k in hyps), encoding="utf-8")
    (d / "skipped").write_text(skipped, encoding="utf-8")


def test_stage12_merges_only_this_runs_jobs(tmp_path):
    """A rerun with fewer jobs used to merge output.3 of the earlier 3-job run (duplicate ids)."""
    from espnet_spire.bin import merge_decode_jobs

    logdir = tmp_path / "logdir"
    for j, keys in enumerate((["a", "b"], ["c", "d"], ["e", "f"]), start=1):  # the earlier run: 3 jobs
        _job(logdir, j, "asr", {k: f"old {k}" for k in keys})
    _job(logdir, 1, "asr", {"a": "new a", "b": "new b", "c": "new c"})  # this run: 2 jobs
    _job(logdir, 2, "asr", {"d": "new d", "f": "new f"}, skipped="e too_long prompt has 900 tokens\n")
    out = tmp_path / "decode" / "test"
    assert merge_decode_jobs.main(["--logdir", str(logdir), "--nj", "2", "--tasks", "asr",
                                   "--output_dir", str(out)]) == 0
    assert (out / "asr" / "text").read_text() == "a new a\nb new b\nc new c\nd new d\nf new f\n"
    assert (out / "asr" / "skipped").read_text() == "e too_long prompt has 900 tokens\n"
    assert (out / "asr" / "prompts.jsonl").read_text().count("\n") == 5


def test_stage12_merge_fails_on_duplicates_and_missing_jobs(tmp_path, caplog):
    from espnet_spire.bin import merge_decode_jobs

    logdir = tmp_path / "logdir"
    _job(logdir, 1, "asr", {"a": "x", "b": "y"})
    _job(logdir, 2, "asr", {"b": "z"})
    args = ["--logdir", str(logdir), "--tasks", "asr", "--output_dir", str(tmp_path / "out")]
    assert merge_decode_jobs.main(args + ["--nj", "2"]) == 1
    assert f"'b' appears in two jobs ({logdir}/output.1/asr/text and {logdir}/output.2/asr/text)" in caplog.text
    assert merge_decode_jobs.main(args + ["--nj", "3"]) == 1
    assert f"asr: no asr/text in {logdir}/output.3 (the job failed or did not run" in caplog.text
    assert not (tmp_path / "out" / "asr" / "text").exists()


def test_stage12_clears_earlier_outputs_and_merges_jobs_1_to_nj():
    """The template's stage 12 removes the logdir's output.* before decoding and merges 1..nj."""
    from recipe_paths import TEMPLATE

    script = (TEMPLATE / "spire.sh").read_text()
    stage12 = script[script.index("if run_stage 12; then"):script.index("if run_stage 13; then")]
    assert 'rm -rf "${_logdir}"/output.*' in stage12
    assert "espnet_spire.bin.merge_decode_jobs --logdir" in stage12 and '--nj "${_nj}"' in stage12
    assert "output.*/" not in stage12


# ------------------------------------------------------------------ 2: units of changed audio


def _stage2(data_dir, dump, keys):
    from espnet_spire.audio.format_job import merge_jobs, run_format_job

    for j, ks in enumerate(keys, start=1):
        run_format_job(data_dir, ks, dump, j)
    merge_jobs(data_dir, dump, len(keys), max_failed_ratio=0.0)


def _stage5(dump, km, logdir, key_files, out):
    from espnet_spire.bin import label_units

    for j, kf in enumerate(key_files, start=1):
        assert label_units.main(["label", "--data_dir", str(dump), "--key_file", str(kf), "--kmeans", str(km),
                                 "--output_dir", str(logdir / f"output.{j}"), "--feature_type", "mfcc"]) == 0
    assert label_units.main(["merge", "--logdir", str(logdir), "--nj", str(len(key_files)),
                             "--output_dir", str(out)]) == 0
    return dict(line.split(" ", 1) for line in (out / "units").read_text(encoding="utf-8").splitlines())


def _units_setup(tmp_path, wavs):
    """Stages 2-4 (2 jobs, MFCC, K=8) on ``{uttid: wav path}``; returns the paths stage 5 needs."""
    from _units_helpers import write_keys, write_wav_scp
    from espnet_spire.bin import dump_ssl_feats, learn_kmeans

    utts = sorted(wavs)
    keys = [utts[: len(utts) // 2], utts[len(utts) // 2:]]
    data = tmp_path / "data"
    write_wav_scp(str(data), list(wavs.items()))
    dump = tmp_path / "dump"
    key_files = [write_keys(str(tmp_path / f"keys.{j}.scp"), ks) for j, ks in enumerate(keys, start=1)]
    _stage2(data, dump, keys)
    feats, km = tmp_path / "feats", tmp_path / "km"
    assert dump_ssl_feats.main(["--data_dir", str(dump), "--output_dir", str(feats / "output.1"),
                                "--feature_type", "mfcc", "--portion", "1.0", "--max_frames", "4000"]) == 0
    assert learn_kmeans.main(["--feats", str(feats), "--output_dir", str(km), "--n_clusters", "8",
                              "--max_iter", "4", "--seed", "0"]) == 0
    return {"data": data, "dump": dump, "km": km, "keys": keys, "key_files": key_files, "logdir": tmp_path / "logdir"}


def test_changed_audio_redoes_its_units_job(tmp_path):
    """A wav.scp line pointed at another recording: stage 2 redid it, stage 5 kept the old units."""
    from _units_helpers import an4_wavs, write_wav_scp

    wavs = dict(an4_wavs())
    utts = sorted(wavs)
    u = _units_setup(tmp_path, wavs)
    before = _stage5(u["dump"], u["km"], u["logdir"], u["key_files"], tmp_path / "units")

    changed, other = utts[5], utts[6]  # job 2
    assert before[changed] != before[other]
    write_wav_scp(str(u["data"]), [(k, wavs[other] if k == changed else p) for k, p in wavs.items()])
    _stage2(u["data"], u["dump"], u["keys"])
    job1 = u["logdir"] / "output.1" / "units"
    stamp = job1.stat().st_mtime_ns
    after = _stage5(u["dump"], u["km"], u["logdir"], u["key_files"], tmp_path / "units")
    assert after[changed] == before[other]  # the new recording's units
    assert {k: v for k, v in after.items() if k != changed} == {k: v for k, v in before.items() if k != changed}
    assert job1.stat().st_mtime_ns == stamp  # job 1 (audio unchanged) was skipped


def test_stage5_over_budget_leaves_no_units_file(tmp_path, capsys):
    """Over the failure budget the merge used to write a complete-looking units file anyway."""
    from _units_helpers import an4_wavs
    from espnet_spire.bin import label_units

    wavs = dict(an4_wavs())
    u = _units_setup(tmp_path, wavs)
    units_dir = tmp_path / "units"
    _stage5(u["dump"], u["km"], u["logdir"], u["key_files"], units_dir)  # a first, good run
    assert (units_dir / "units").is_file()
    # the dump's recording of one utterance is broken afterwards: 1 of 8 fails, over a 5 % budget
    victim = sorted(wavs)[6]
    dumped = dict(line.split(" ", 1) for line in (u["dump"] / "wav.scp").read_text().splitlines())
    with open(dumped[victim], "wb") as f:
        f.write(b"RIFF broken")
    capsys.readouterr()
    for j, kf in enumerate(u["key_files"], start=1):
        assert label_units.main(["label", "--data_dir", str(u["dump"]), "--key_file", str(kf), "--kmeans",
                                 str(u["km"]), "--output_dir", str(u["logdir"] / f"output.{j}"),
                                 "--feature_type", "mfcc"]) == 0
    rc = label_units.main(["merge", "--logdir", str(u["logdir"]), "--nj", "2", "--output_dir", str(units_dir),
                           "--max_failed_ratio", "0.05"])
    err = capsys.readouterr().err
    assert rc == 1 and "1 of 8 utterances failed (12.5% > --max_failed_ratio 5.0%)" in err
    assert f"failed per job: {u['logdir'] / 'output.2'}: 1 of 4; {units_dir / 'units'} not written" in err
    assert sorted(p.name for p in units_dir.iterdir()) == ["failed"]
    assert (units_dir / "failed").read_text().startswith(f"{victim} unreadable")


# ------------------------------------------------------------------ 4: special tokens in text


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory):
    return F.build_tokenizers(str(tmp_path_factory.mktemp("faults_tok")), num_units=K)


def _assert_no_special_inside(split_dir: str, tok, what: str) -> int:
    """No special/added id other than the document frame (BOS/EOS, and for IT the ChatML turns)."""
    from espnet_spire.lm.text_policy import special_token_strings
    from espnet_spire.lm.token_data import read_split

    frame = {tok.bos_token_id, tok.eos_token_id, tok.pad_token_id}
    frame |= {tok.convert_tokens_to_ids(t) for t in ("<|im_start|>", "<|im_end|>") if t in tok.get_vocab()}
    banned = {tok.convert_tokens_to_ids(s) for s in special_token_strings(tok)} - frame
    assert tok.convert_tokens_to_ids("<unk>") in banned and tok.convert_tokens_to_ids("<SEP>") in banned
    rows = 0
    for key, ids, _ in read_split(split_dir):
        assert not banned & set(ids), f"{what}: special id in {key}"
        rows += 1
    return rows


def _special_corpus(root, tok):
    from espnet_spire.lm.text_policy import special_token_strings

    specials = [s for s in special_token_strings(tok) if not s.startswith("<|im_")]
    assert {"<s>", "</s>", "<unk>", "<SEP>", "<CLS>", "<EOD>", "<MASK>", "<PAD>"} <= set(specials)
    rng = np.random.default_rng(4)
    en = F.ntrex_lines("en", 10 + len(specials))
    ids = [f"utt{i:02d}" for i in range(len(en))]
    F.write_lines(os.path.join(root, "units"), [f"{u} {F.random_units(rng, 30, K)}" for u in ids])
    bad = {ids[i]: s for i, s in enumerate(specials)}  # one special token in each of these transcripts
    F.write_lines(os.path.join(root, "text"),
                  [f"{u} {t[:20]} {bad[u]} {t[20:]}" if u in bad else f"{u} {t}" for u, t in zip(ids, en)])
    return ids, bad


def _skipped(path: str) -> dict:
    return {line.split(" ", 2)[0]: line.split(" ", 2)[1:] for line in open(path, encoding="utf-8").read().splitlines()}


def test_special_tokens_in_cpt_text_are_refused(tokenizers, tmp_path):
    from transformers import AutoTokenizer

    from espnet_spire.lm.cpt_data import CptConfig, build_cpt_data

    tok = AutoTokenizer.from_pretrained(tokenizers["tok_base"])
    ids, bad = _special_corpus(str(tmp_path), tok)
    out = str(tmp_path / "cpt")
    build_cpt_data(tokenizers["tok_base"], out, CptConfig(max_len=256, speech_text_ratio=None, seed=0),
                   [(str(tmp_path / "units"), str(tmp_path / "text"))])
    skipped = _skipped(os.path.join(out, "skipped"))
    assert set(skipped) == set(bad)
    for u, s in bad.items():
        assert skipped[u] == ["special_token", f"contains {s} (special/added token(s) of the tokenizer)"]
    assert _assert_no_special_inside(out, tok, "CPT") > 0


def test_special_tokens_in_it_text_are_refused(tokenizers, tmp_path):
    import json

    from transformers import AutoTokenizer

    from espnet_spire.lm.it_data import build_it_data

    tok = AutoTokenizer.from_pretrained(tokenizers["tok_instruct"])
    ids, bad = _special_corpus(str(tmp_path), tok)
    blocks = tmp_path / "blocks.jsonl"
    blocks.write_text("".join(json.dumps({"conversations": [{"from": "human", "value": f"Say {s} please"},
                                                            {"from": "gpt", "value": "ok"}]}) + "\n"
                              for s in ("<unk>", "</s>", "fine")), encoding="utf-8")
    mix = {"name": "faults", "seed": 0, "prompt_style": "head", "sources": [
        {"name": "asr", "type": "asr", "units": str(tmp_path / "units"), "text": str(tmp_path / "text"),
         "num_samples": "all"},
        {"name": "tb", "type": "jsonl", "path": str(blocks), "num_samples": "all"}]}
    out = str(tmp_path / "it")
    build_it_data(tokenizers["tok_instruct"], out, mix, max_len=1024)
    skipped = _skipped(os.path.join(out, "skipped"))
    refused = {k for k, v in skipped.items() if v[0] == "special_token"}
    assert refused == {f"asr:{u}" for u in bad} | {"tb:line1", "tb:line2"}
    assert _assert_no_special_inside(out, tok, "IT") == len(ids) - len(bad) + 1


# ------------------------------------------------------------------ 8: truncated audio in stage 2


def test_truncated_wav_is_rejected_in_stage2(tmp_path):
    """A WAV whose header promises 50,887 samples, cut to 1,478, was kept with its full transcript."""
    import soundfile as sf

    from _units_helpers import write_wav_scp
    from espnet_spire.audio.format_job import merge_jobs, run_format_job

    rng = np.random.default_rng(0)
    full = tmp_path / "full.wav"
    sf.write(full, (rng.normal(size=50887) * 0.1).astype(np.float32), 16000, subtype="PCM_16")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(full.read_bytes()[:44 + 2 * 1478])
    assert sf.info(str(cut)).frames == 1478  # libsndfile alone sees nothing wrong
    odd = tmp_path / "odd.wav"  # a complete file with an odd-sized extra chunk before the data
    sf.write(odd, (rng.normal(size=8001) * 0.1).astype(np.float32), 16000, subtype="PCM_16")
    raw = odd.read_bytes()
    odd.write_bytes(raw[:36] + b"LIST\x03\x00\x00\x00abc\x00" + raw[36:])
    riff = len(odd.read_bytes()) - 8
    odd.write_bytes(b"RIFF" + riff.to_bytes(4, "little") + odd.read_bytes()[8:])
    data = tmp_path / "data"
    write_wav_scp(str(data), [("a-full", str(full)), ("b-cut", str(cut)), ("c-odd", str(odd))])
    dump = tmp_path / "dump"
    run_format_job(data, ["a-full", "b-cut", "c-odd"], dump, 1)
    merge_jobs(data, dump, 1, max_failed_ratio=0.5)
    failed = (dump / "failed").read_text(encoding="utf-8").splitlines()
    assert failed == [f"b-cut truncated: header says 50887 samples, file has 1478 ('{cut}')"]
    assert [line.split()[0] for line in (dump / "wav.scp").read_text().splitlines()] == ["a-full", "c-odd"]
    assert (dump / "utt2num_samples").read_text() == "a-full 50887\nc-odd 8001\n"


# ------------------------------------------------------------------ 8: stage 13


def _asr_decode(d, hyps: dict) -> None:
    d.mkdir(parents=True, exist_ok=True)
    (d / "text").write_text("".join(f"{k} {v}\n" for k, v in hyps.items()), encoding="utf-8")


def test_empty_references_are_reported(tmp_path, caplog):
    """Empty transcripts in a reference used to be scored with only a hidden warning."""
    import json

    from espnet_spire.bin import make_results, score_decode_dir

    data = tmp_path / "data" / "test"
    data.mkdir(parents=True)
    (data / "text").write_text("u1 hello world\nu2\nu3 good morning\nu4 \n", encoding="utf-8")
    dec = tmp_path / "exp" / "m" / "decode_greedy" / "test" / "asr"
    _asr_decode(dec, {"u1": "hello world", "u2": "noise", "u3": "good morning", "u4": ""})
    score_decode_dir.main(["--task", "asr", "--ref", str(data / "text"), "--hyp_dir", str(dec),
                           "--wer_backend", "python"])
    warning = [r for r in caplog.records if r.levelname == "WARNING" and "references" in r.getMessage()]
    assert [r.getMessage() for r in warning] == [
        f"2 of 4 references in {data / 'text'} are empty (ids in {dec / 'empty_refs'}); they are scored as they are"]
    assert (dec / "empty_refs").read_text() == "u2\nu4\n"
    scores = json.loads((dec / "scores.json").read_text())
    assert scores["n_empty_refs"] == 2 and scores["empty_refs_file"] == str(dec / "empty_refs")
    make_results.main(["--exp_dir", str(tmp_path / "exp"), "--out", str(tmp_path / "R.md")])
    assert (f"- decode_greedy/test/asr: 2 of 4 references are empty (ids in {dec / 'empty_refs'}); "
            "they are scored as they are.") in (tmp_path / "R.md").read_text()


def test_make_results_lists_only_this_runs_decode_dirs(tmp_path):
    import json

    from espnet_spire.bin import make_results

    for tag in ("decode_greedy", "decode_old"):
        d = tmp_path / "exp" / "it" / "spirefull" / tag / "test" / "asr"
        d.mkdir(parents=True)
        (d / "scores.json").write_text(json.dumps({"task": "asr", "n_utts": 3, "metrics": {"wer": 10.0}}))
    make_results.main(["--exp_dir", str(tmp_path / "exp"), "--out", str(tmp_path / "R.md"),
                       "--decode_dir", str(tmp_path / "exp" / "it" / "spirefull" / "decode_greedy")])
    md = (tmp_path / "R.md").read_text()
    assert "|decode_greedy|test|asr|3|" in md and "decode_old" not in md


def test_stage13_scores_this_run_only_and_fails_on_a_missing_variant(tmp_path):
    """Stage 13 silently left out a variant without decode dir and re-scored stale decode dirs."""
    import re
    import subprocess

    from recipe_paths import DEMO, RECIPE_ENV, ROOT, copy_recipe

    work = copy_recipe(DEMO, tmp_path / "spire1")
    for d in ("demo_train", "demo_dev", "demo_test"):
        (work / "data" / d).mkdir(parents=True)
        (work / "data" / d / "wav.scp").write_text("u1 /dev/null\nu2 /dev/null\n")
        (work / "data" / d / "text").write_text("u1 hello world\nu2 good morning\n")
    for d in ("demo_mt_train", "demo_mono"):
        (work / "data" / d).mkdir(parents=True)
        (work / "data" / d / "text.tc.en").write_text("m1 hello\n")
    env = {**RECIPE_ENV, "PYTHONPATH": str(ROOT)}

    def stage13(*extra):
        return subprocess.run(["./run.sh", "--stage", "13", "--stop_stage", "13", "--variants", "spirebase spirefull",
                               "--decode_tasks", "asr", "--copy_baseline", "false", "--decode_base", "false", *extra],
                              cwd=work, env=env, capture_output=True, text=True)

    out = stage13()
    assert out.returncode == 1
    assert ("2 decode outputs of this run (--variants spirebase spirefull, --decode_tag greedy) are missing"
            in out.stderr)
    missing = re.findall(r"^    (\S+/decode_greedy/demo_test/asr/text)$", out.stderr, re.M)
    assert len(missing) == 2 and any("/spirefull/" in m for m in missing)
    assert not (work / "RESULTS.md").exists()
    for m in missing:  # both variants decoded; an earlier decode_old of spirefull lies next to them
        _asr_decode((work / m).parent, {"u1": "hello world", "u2": "good"})
    stale = (work / missing[-1]).parent.parent.parent.parent / "decode_old" / "demo_test" / "asr"
    _asr_decode(stale, {"u1": "x", "u2": "y"})
    out = stage13()
    assert out.returncode == 0, out.stderr
    assert "Stage 13: scored 2 decode dirs" in out.stderr
    assert all(((work / m).parent / "scores.json").is_file() for m in missing)
    assert not (stale / "scores.json").exists()
    assert "decode_old" not in (work / "RESULTS.md").read_text()
