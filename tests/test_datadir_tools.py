"""Tests for the Kaldi-style data-dir tools in egs2/spire/spire1/utils/."""
import os
import random
import subprocess
from pathlib import Path

import pytest

RECIPE = Path(__file__).resolve().parents[1] / "egs2/spire/spire1"
UTILS = RECIPE / "utils"


def run(tool, *args, cwd, stdin=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LC_")}
    env["LANG"] = "en_US.UTF-8"   # the tools must sort with LC_ALL=C whatever the caller uses
    return subprocess.run([str(UTILS / tool), *map(str, args)], cwd=cwd, input=stdin, env=env,
                          capture_output=True, text=True, timeout=60)


def ok(result):
    assert result.returncode == 0, result.stderr
    return result


def fails(result, message):
    """The tool failed and said why: a non-zero exit and ``message`` in its stderr."""
    assert result.returncode != 0, f"expected a failure, got exit 0:\n{result.stdout}"
    assert message in result.stderr, result.stderr
    return result


def write(path, lines):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))


def read(path):
    return Path(path).read_text().splitlines()


def c_sorted(lines):
    return sorted(lines, key=lambda line: line.encode())


def assert_dir_sorted(d):
    for f in Path(d).iterdir():
        if f.is_file():
            assert read(f) == c_sorted(read(f)), f"{f.name} is not sorted"


# ---------------------------------------------------------------- spk2utt / utt2spk

def test_utt2spk_to_spk2utt_and_back(tmp_path):
    utt2spk = ["B-2 B", "A-1 A", "A-3 A", "b-1 b", "A-2 A"]
    write(tmp_path / "utt2spk", utt2spk)
    spk2utt = ok(run("utt2spk_to_spk2utt.sh", "utt2spk", cwd=tmp_path)).stdout
    assert spk2utt.splitlines() == ["A A-1 A-3 A-2", "B B-2", "b b-1"]   # input order kept
    (tmp_path / "spk2utt").write_text(spk2utt)
    back = ok(run("spk2utt_to_utt2spk.sh", "spk2utt", cwd=tmp_path)).stdout.splitlines()
    assert back == c_sorted(utt2spk)
    # stdin works too
    piped = ok(run("utt2spk_to_spk2utt.sh", cwd=tmp_path, stdin="u1 s\nu2 s\n")).stdout
    assert piped == "s u1 u2\n"


def test_utt2spk_to_spk2utt_rejects_bad_lines(tmp_path):
    fails(run("utt2spk_to_spk2utt.sh", cwd=tmp_path, stdin="u1 s\nonly_one_field\n"), "line 2")


# ---------------------------------------------------------------- split_scp.sh

@pytest.mark.parametrize("n_lines, n_pieces", [(10, 3), (7, 7), (100, 8), (5, 1)])
def test_split_scp_contiguous_and_balanced(tmp_path, n_lines, n_pieces):
    lines = [f"utt{i:03d} /path/{i}.wav" for i in range(n_lines)]
    write(tmp_path / "in.scp", lines)
    outs = [tmp_path / f"split/out.{i}.scp" for i in range(1, n_pieces + 1)]
    ok(run("split_scp.sh", "in.scp", *outs, cwd=tmp_path))
    pieces = [read(o) for o in outs]
    assert sum(pieces, []) == lines   # contiguous, in order, nothing lost
    sizes = [len(p) for p in pieces]
    assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 1


def test_split_scp_too_many_pieces(tmp_path):
    write(tmp_path / "in.scp", ["a 1", "b 2"])
    fails(run("split_scp.sh", "in.scp", "o1", "o2", "o3", cwd=tmp_path), "cannot split 2 lines into 3 pieces")


def test_split_scp_by_speaker(tmp_path):
    rng = random.Random(1)
    utt2spk = []
    for s in range(12):
        utt2spk += [f"spk{s:02d}-u{u} spk{s:02d}" for u in range(rng.randint(1, 9))]
    write(tmp_path / "utt2spk", utt2spk)
    write(tmp_path / "text", [f"{line.split()[0]} words" for line in utt2spk])
    outs = [f"t.{i}" for i in range(1, 5)]
    ok(run("split_scp.sh", "--utt2spk", "utt2spk", "text", *outs, cwd=tmp_path))
    pieces = [read(tmp_path / o) for o in outs]
    assert sum(pieces, []) == read(tmp_path / "text")
    speakers = [{line.split("-")[0] for line in p} for p in pieces]
    assert all(speakers)
    for i in range(4):
        for j in range(i + 1, 4):
            assert not speakers[i] & speakers[j]   # one speaker goes to one piece
    sizes = [len(p) for p in pieces]
    assert max(sizes) <= len(utt2spk) / 4 + 9   # balanced up to one speaker


def test_split_scp_by_speaker_skewed_sizes(tmp_path):
    # A large last speaker must not leave a piece empty.
    utt2spk = ["a-1 a", "b-1 b"] + [f"c-{i:02d} c" for i in range(10)]
    write(tmp_path / "utt2spk", utt2spk)
    ok(run("split_scp.sh", "--utt2spk", "utt2spk", "utt2spk", "o1", "o2", "o3", cwd=tmp_path))
    assert [len(read(tmp_path / o)) for o in ("o1", "o2", "o3")] == [1, 1, 10]


def test_split_scp_by_speaker_errors(tmp_path):
    write(tmp_path / "utt2spk", ["a1 a", "a2 a", "b1 b"])
    write(tmp_path / "in.scp", ["a1 x", "a2 x", "b1 x"])
    fails(run("split_scp.sh", "--utt2spk", "utt2spk", "in.scp", "o1", "o2", "o3", cwd=tmp_path),
          "2 speakers into 3 pieces")
    write(tmp_path / "mixed.scp", ["a1 x", "b1 x", "a2 x"])
    fails(run("split_scp.sh", "--utt2spk", "utt2spk", "mixed.scp", "o1", "o2", cwd=tmp_path), "not contiguous")
    write(tmp_path / "other.scp", ["a1 x", "c1 x"])
    fails(run("split_scp.sh", "--utt2spk", "utt2spk", "other.scp", "o1", "o2", cwd=tmp_path), "c1")


def test_split_scp_usage(tmp_path):
    fails(run("split_scp.sh", "only_one_arg", cwd=tmp_path), "Usage")


# ---------------------------------------------------------------- filter_scp.sh

def test_filter_scp(tmp_path):
    write(tmp_path / "in.scp", ["u1 a", "u2 b c", "u3 d", "u4 e"])
    write(tmp_path / "ids", ["u3", "u1 extra columns", "u9"])
    assert ok(run("filter_scp.sh", "ids", "in.scp", cwd=tmp_path)).stdout == "u1 a\nu3 d\n"
    out = ok(run("filter_scp.sh", "--exclude", "ids", "in.scp", cwd=tmp_path)).stdout
    assert out == "u2 b c\nu4 e\n"
    out = ok(run("filter_scp.sh", "-f", "2", "ids", cwd=tmp_path, stdin="x u3\ny u2\n")).stdout
    assert out == "x u3\n"
    fails(run("filter_scp.sh", cwd=tmp_path), "Usage:")
    fails(run("filter_scp.sh", "missing_ids", "in.scp", cwd=tmp_path), "cannot read missing_ids")


# ---------------------------------------------------------------- fix_data_dir.sh

def make_dir(d, utts, spk2gender=True):
    """A data dir with utterances "<spk>-<n>" given as (utt, words)."""
    write(d / "wav.scp", [f"{u} /audio/{u}.wav" for u, _ in utts])
    write(d / "text", [f"{u} {w}" for u, w in utts])
    write(d / "utt2spk", [f"{u} {u.split('-')[0]}" for u, _ in utts])
    if spk2gender:
        write(d / "spk2gender", sorted({f"{u.split('-')[0]} f" for u, _ in utts}))


def test_fix_data_dir_sorts_and_drops_inconsistent_ids(tmp_path):
    d = tmp_path / "data/train"
    write(d / "wav.scp", ["s2-1 /a/s2-1.wav", "s1-2 /a/s1-2.wav", "s1-1 /a/s1-1.wav",
                          "s3-1 /a/s3-1.wav", "s1-1 /a/s1-1.wav"])   # a duplicate line
    write(d / "text", ["s1-2 hello world", "s2-1 hi", "s1-1 yes", "s4-1 no audio"])
    write(d / "utt2spk", ["s1-1 s1", "s2-1 s2", "s1-2 s1", "s3-1 s3", "s4-1 s4"])
    write(d / "spk2gender", ["s3 m", "s2 f", "s1 m", "s4 f"])
    write(d / "spk2utt", ["stale s9-9"])
    write(d / "feats_type", ["raw"])
    result = ok(run("fix_data_dir.sh", d, cwd=tmp_path))
    assert "kept 3 utterances, dropped 2" in result.stdout   # s3-1 (no text), s4-1 (no audio)
    assert read(d / "wav.scp") == ["s1-1 /a/s1-1.wav", "s1-2 /a/s1-2.wav", "s2-1 /a/s2-1.wav"]
    assert read(d / "text") == ["s1-1 yes", "s1-2 hello world", "s2-1 hi"]
    assert read(d / "utt2spk") == ["s1-1 s1", "s1-2 s1", "s2-1 s2"]
    assert read(d / "spk2utt") == ["s1 s1-1 s1-2", "s2 s2-1"]
    assert read(d / "spk2gender") == ["s1 m", "s2 f"]
    assert read(d / "feats_type") == ["raw"]   # other files untouched
    assert read(d / ".backup/text")[0] == "s1-2 hello world"
    assert_dir_sorted(d)
    # Running it again changes nothing.
    before = {f.name: f.read_text() for f in d.iterdir() if f.is_file()}
    assert "dropped 0" in ok(run("fix_data_dir.sh", d, cwd=tmp_path)).stdout
    assert before == {f.name: f.read_text() for f in d.iterdir() if f.is_file()}


def test_fix_data_dir_c_locale_order(tmp_path):
    d = tmp_path / "d"
    make_dir(d, [("a-1", "x"), ("B-1", "y"), ("a_b-1", "z"), ("A-1", "w")])
    ok(run("fix_data_dir.sh", d, cwd=tmp_path))
    assert [line.split()[0] for line in read(d / "utt2spk")] == ["A-1", "B-1", "a-1", "a_b-1"]


def test_fix_data_dir_extra_utt_files(tmp_path):
    d = tmp_path / "d"
    make_dir(d, [("s1-1", "a"), ("s1-2", "b"), ("s2-1", "c")])
    write(d / "utt2num_samples", ["s2-1 16000", "s1-1 8000"])   # s1-2 missing
    write(d / "text.km.hubert", ["s1-1 1 2", "s1-2 3", "s2-1 4"])
    write(d / "emotion", ["s2-1 happy", "s1-1 sad", "s1-2 calm"])
    ok(run("fix_data_dir.sh", "--utt_extra_files", "emotion", d, cwd=tmp_path))
    assert read(d / "utt2spk") == ["s1-1 s1", "s2-1 s2"]
    assert read(d / "text.km.hubert") == ["s1-1 1 2", "s2-1 4"]
    assert read(d / "emotion") == ["s1-1 sad", "s2-1 happy"]


def test_fix_data_dir_with_segments(tmp_path):
    d = tmp_path / "d"
    write(d / "wav.scp", ["recB /b.wav", "recA /a.wav", "recC /c.wav"])
    write(d / "segments", ["s1-1 recA 0.0 1.5", "s1-2 recA 1.5 3.0", "s2-1 recB 0 2",
                           "s2-2 recX 0 1"])   # recX has no audio
    write(d / "text", ["s1-1 a", "s1-2 b", "s2-1 c", "s2-2 d"])
    write(d / "utt2spk", ["s1-1 s1", "s1-2 s1", "s2-1 s2", "s2-2 s2"])
    result = ok(run("fix_data_dir.sh", d, cwd=tmp_path))
    assert "kept 3 utterances, dropped 1" in result.stdout
    assert read(d / "segments") == ["s1-1 recA 0.0 1.5", "s1-2 recA 1.5 3.0", "s2-1 recB 0 2"]
    assert read(d / "wav.scp") == ["recA /a.wav", "recB /b.wav"]   # unused recC dropped
    assert_dir_sorted(d)


def test_fix_data_dir_errors(tmp_path):
    d = tmp_path / "d"
    write(d / "utt2spk", ["u1 s"])
    fails(run("fix_data_dir.sh", d, cwd=tmp_path), "wav.scp")
    write(d / "wav.scp", ["u2 /x.wav"])
    fails(run("fix_data_dir.sh", d, cwd=tmp_path), "no utterance left")
    fails(run("fix_data_dir.sh", cwd=tmp_path), "Usage:")


# ---------------------------------------------------------------- subset_data_dir.sh

@pytest.fixture
def src(tmp_path):
    d = tmp_path / "data/all"
    make_dir(d, [(f"s{s}-{u:02d}", f"words {s} {u}") for s in range(1, 5) for u in range(5)])
    write(d / "feats_type", ["raw"])
    return d


def utts(d):
    return [line.split()[0] for line in read(Path(d) / "utt2spk")]


def test_subset_first_last(tmp_path, src):
    ok(run("subset_data_dir.sh", src, 3, "first3", cwd=tmp_path))
    assert utts(tmp_path / "first3") == ["s1-00", "s1-01", "s1-02"]
    ok(run("subset_data_dir.sh", "--last", src, 6, "last6", cwd=tmp_path))
    assert utts(tmp_path / "last6") == ["s3-04"] + [f"s4-{u:02d}" for u in range(5)]
    d = tmp_path / "last6"
    assert read(d / "spk2utt") == ["s3 s3-04", "s4 " + " ".join(f"s4-{u:02d}" for u in range(5))]
    assert read(d / "spk2gender") == ["s3 f", "s4 f"]
    assert read(d / "feats_type") == ["raw"]
    assert len(read(d / "wav.scp")) == len(read(d / "text")) == 6
    assert_dir_sorted(d)


def test_subset_random_is_seeded(tmp_path, src):
    picks = []
    for seed, name in [(7, "r1"), (7, "r2"), (8, "r3")]:
        ok(run("subset_data_dir.sh", "--random", "--seed", seed, src, 5, name, cwd=tmp_path))
        picks.append(utts(tmp_path / name))
        assert_dir_sorted(tmp_path / name)
    assert len(picks[0]) == 5 and set(picks[0]) <= set(utts(src))
    assert picks[0] == picks[1]   # same seed, same subset
    assert picks[0] != picks[2]
    assert picks[0] != utts(src)[:5]


def test_subset_by_lists(tmp_path, src):
    write(tmp_path / "ids", ["s2-03", "s1-00", "nope"])
    ok(run("subset_data_dir.sh", "--utt_list", "ids", src, "byutt", cwd=tmp_path))
    assert utts(tmp_path / "byutt") == ["s1-00", "s2-03"]
    assert read(tmp_path / "byutt/text") == ["s1-00 words 1 0", "s2-03 words 2 3"]
    write(tmp_path / "spks", ["s3"])
    ok(run("subset_data_dir.sh", "--spk-list", "spks", src, "byspk", cwd=tmp_path))
    assert utts(tmp_path / "byspk") == [f"s3-{u:02d}" for u in range(5)]


def test_subset_errors(tmp_path, src):
    fails(run("subset_data_dir.sh", src, 21, "big", cwd=tmp_path), "only 20")
    fails(run("subset_data_dir.sh", src, "x", "bad", cwd=tmp_path), "Usage:")
    fails(run("subset_data_dir.sh", src, 2, src, cwd=tmp_path), "<src-dir> and <dest-dir> are the same")
    fails(run("subset_data_dir.sh", "--what", src, 2, "o", cwd=tmp_path), "Usage:")


# ---------------------------------------------------------------- combine_data.sh

def test_combine_data(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    make_dir(a, [("s2-1", "two"), ("s1-1", "one")])
    make_dir(b, [("s3-1", "three"), ("s1-2", "one again")])
    write(a / "utt2num_samples", ["s1-1 10", "s2-1 20"])   # only in a: not combined
    write(a / "feats_type", ["raw"])
    write(b / "feats_type", ["raw"])
    result = ok(run("combine_data.sh", "out", a, b, cwd=tmp_path))
    assert "utt2num_samples" in result.stderr   # warned about
    out = tmp_path / "out"
    assert utts(out) == ["s1-1", "s1-2", "s2-1", "s3-1"]
    assert read(out / "spk2utt") == ["s1 s1-1 s1-2", "s2 s2-1", "s3 s3-1"]
    assert read(out / "text")[1] == "s1-2 one again"
    assert read(out / "spk2gender") == ["s1 f", "s2 f", "s3 f"]
    assert read(out / "feats_type") == ["raw"]
    assert not (out / "utt2num_samples").exists()
    assert_dir_sorted(out)


def test_combine_data_conflicting_ids(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    make_dir(a, [("s1-1", "one")])
    make_dir(b, [("s1-1", "different words")])
    fails(run("combine_data.sh", "out", a, b, cwd=tmp_path), "s1-1")
    fails(run("combine_data.sh", "out", cwd=tmp_path), "Usage:")
