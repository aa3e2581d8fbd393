#!/usr/bin/env bash
# Check a Kaldi-style data directory (sorted files, unique and consistent ids, spk2utt,
# decodable audio) and print a summary. Thin wrapper around
# `python -m espnet_spire.bin.validate_data_dir`; exit status 0 = valid.
#
# Usage: utils/validate_data_dir.sh [--python CMD] [--no_audio] [--no_text] [--nj N]
#                                   [--spk_sort] [--summary_json FILE] DIR [DIR...]
# Several dirs are checked in one process; the exit status is 1 when any of them is invalid.
# Dash spellings (--no-audio, --no-text) work too; Kaldi's --no-feats is accepted and ignored.
set -euo pipefail

python=python3
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --python) python=$2; shift 2 ;;
        --no_audio|--no-audio) args+=(--no_audio); shift ;;
        --no_text|--no-text) args+=(--no_text); shift ;;
        --spk_sort|--spk-sort) args+=(--spk_sort); shift ;;
        --show_warnings|--show-warnings) args+=(--show_warnings); shift ;;
        --nj) args+=(--nj "$2"); shift 2 ;;
        --summary_json|--summary-json) args+=(--summary_json "$2"); shift 2 ;;
        --no_feats|--no-feats|--no-spk-sort|--no_spk_sort) shift ;;
        -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        --*) echo "$0: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
if [ $# -lt 1 ]; then
    echo "Usage: $0 [--python CMD] [--no_audio] [--no_text] [--nj N] DIR [DIR...]" >&2
    exit 2
fi

# ${python} may be a multi-word command such as "coverage run --append".
# shellcheck disable=SC2086
exec ${python} -m espnet_spire.bin.validate_data_dir "${args[@]}" "$@"
