#!/usr/bin/env bash
# spk2utt ("spk utt1 utt2 ..." lines) -> utt2spk ("utt spk" lines) on stdout, sorted with LC_ALL=C.
set -euo pipefail

if [ $# -gt 1 ] || [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; then
    echo "Usage: $0 [<spk2utt>] > <utt2spk>   (reads stdin without an argument)" >&2
    exit 1
fi

awk '{ for (i = 2; i <= NF; i++) print $i, $1 }' "${1:--}" | LC_ALL=C sort
