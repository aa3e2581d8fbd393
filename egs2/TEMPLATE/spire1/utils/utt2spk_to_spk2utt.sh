#!/usr/bin/env bash
# utt2spk ("utt spk" lines) -> spk2utt ("spk utt1 utt2 ..." lines) on stdout.
# Speakers are sorted with LC_ALL=C; each speaker's utterances keep their input order.
set -euo pipefail

if [ $# -gt 1 ] || [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; then
    echo "Usage: $0 [<utt2spk>] > <spk2utt>   (reads stdin without an argument)" >&2
    exit 1
fi

awk -v prog="$0" '
     NF != 2 { printf "%s: bad utt2spk line %d: %s\n", prog, NR, $0 > "/dev/stderr"; bad = 1; exit 1 }
     !($2 in utts) { order[++n] = $2; utts[$2] = $1; next }
     { utts[$2] = utts[$2] " " $1 }
     END { if (bad) exit 1; for (i = 1; i <= n; i++) print order[i], utts[order[i]] }' "${1:--}" \
    | LC_ALL=C sort
