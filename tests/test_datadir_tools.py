"""Tests for the Kaldi-style data-dir tools in egs2/TEMPLATE/spire1/utils/."""
import os
import random
import subprocess
from pathlib import Path

import pytest

from recipe_paths import UTILS


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
