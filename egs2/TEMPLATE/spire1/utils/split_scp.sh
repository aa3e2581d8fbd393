#!/usr/bin/env bash
# Split a scp/text file into N pieces of contiguous lines (order kept, sizes as equal as possible).
# With --utt2spk, all lines of one speaker go to the same piece (the speaker's lines must be
# contiguous in the input, as they are in a sorted data dir with speaker-prefixed utterance ids).
set -euo pipefail

utt2spk=
if [ $# -ge 2 ] && [ "$1" = --utt2spk ]; then utt2spk=$2; shift 2; fi
if [ $# -lt 2 ] || [[ "$1" == -* ]]; then
    cat >&2 <<EOF2
Usage: $0 [--utt2spk <utt2spk>] <in.scp> <out.1> [<out.2> ... <out.N>]
  e.g. $0 data/train/wav.scp exp/log/wav.{1..4}.scp
EOF2
    exit 1
fi
in=$1; shift
[ -f "${in}" ] || { echo "$0: no such file: ${in}" >&2; exit 1; }
[ -z "${utt2spk}" ] || [ -f "${utt2spk}" ] || { echo "$0: no such file: ${utt2spk}" >&2; exit 1; }
for out in "$@"; do mkdir -p "$(dirname "${out}")"; done

# The output names travel through the environment, one per line.
SPLIT_SCP_OUTS=$(printf '%s\n' "$@") awk -v prog="$0" -v nout=$# -v u2s="${utt2spk}" '
    function fail(msg) { print prog ": " msg > "/dev/stderr"; failed = 1; exit 1 }
    # The key that groups lines: the speaker, or the line number when not splitting by speaker.
    function key_of(utt) {
        if (u2s == "") return FNR
        if (!(utt in spk)) fail("utterance " utt " is not in " u2s)
        return spk[utt]
    }
    BEGIN { if (u2s != "") while ((getline line < u2s) > 0) { split(line, f); spk[f[1]] = f[2] } }
    FNR == 1 { pass++; if (pass == 2) ngroup = g; g = 0; prev = "" }
    pass == 1 {
        k = key_of($1)
        if (g == 0 || k != prev) {
            if (k in seen) fail("lines of speaker " k " are not contiguous in " FILENAME)
            seen[k] = 1; g++; prev = k
        }
        size[g]++; total++
        next
    }
    pass == 2 && FNR == 1 {
        if (ngroup < nout)
            fail("cannot split " ngroup (u2s == "" ? " lines" : " speakers") " into " nout " pieces")
        split(ENVIRON["SPLIT_SCP_OUTS"], outs, "\n")
        # Group i goes to the piece holding the middle of its lines, moving on by at most one
        # piece per group and early enough that every piece gets at least one group.
        p = 1; before = 0
        for (i = 1; i <= ngroup; i++) {
            want = int((before + size[i] / 2) * nout / total) + 1
            if (i > 1 && want > p) p++
            if (p < nout - (ngroup - i)) p = nout - (ngroup - i)
            piece[i] = p; before += size[i]
        }
        g = 0
    }
    pass == 2 {
        k = key_of($1)
        if (g == 0 || k != prev) { g++; prev = k }
        print > outs[piece[g]]
    }
    END {
        if (failed) exit 1
        if (pass < 2) { print prog ": " FILENAME " is empty" > "/dev/stderr"; exit 1 }
    }' "${in}" "${in}"
