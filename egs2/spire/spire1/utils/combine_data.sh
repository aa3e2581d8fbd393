#!/usr/bin/env bash
# Merge Kaldi-style data dirs into one. Keyed files (utt2*, text*, segments, *.scp, reco2*,
# spk2gender) are concatenated when every source has them (skipped with a warning otherwise);
# identical lines are merged, but one id with different contents is an error. Other files (e.g.
# feats_type) are copied when they are identical in all sources. Then fix_data_dir.sh sorts the
# result and rebuilds spk2utt.
set -euo pipefail
export LC_ALL=C

if [ $# -lt 2 ] || [[ "$1" == -* ]]; then
    echo "Usage: $0 <dest-dir> <src-dir-1> [<src-dir-2> ...]" >&2
    exit 1
fi
dest=$1; shift
utils=$(dirname "$0")
for src in "$@"; do
    [ -f "${src}/utt2spk" ] || { echo "$0: ${src}/utt2spk is missing" >&2; exit 1; }
    if [ "$(cd "${src}" && pwd)" = "$(mkdir -p "${dest}" && cd "${dest}" && pwd)" ]; then
        echo "$0: <dest-dir> cannot also be a source" >&2; exit 1
    fi
done
n_seg=0
for src in "$@"; do [ ! -f "${src}/segments" ] || n_seg=$((n_seg + 1)); done
if [ "${n_seg}" -ne 0 ] && [ "${n_seg}" -ne $# ]; then
    echo "$0: some sources have segments and some do not; cannot merge them" >&2; exit 1
fi

# Every file name found in any source.
names=$(for src in "$@"; do for p in "${src}"/*; do [ ! -f "${p}" ] || echo "${p##*/}"; done; done \
        | sort -u)
for f in ${names}; do
    [ "${f}" != spk2utt ] || continue   # rebuilt below
    missing=()
    for src in "$@"; do [ -f "${src}/${f}" ] || missing+=("${src}"); done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "$0: warning: ${f} not combined, missing in: ${missing[*]}" >&2
        rm -f "${dest}/${f}"
        continue
    fi
    srcs=(); for src in "$@"; do srcs+=("${src}/${f}"); done
    case "${f}" in
        utt2*|text|text.*|segments|*.scp|reco2*|spk2gender)
            sort -u "${srcs[@]}" > "${dest}/${f}"
            dup=$(awk '$1 == prev { print $1 } { prev = $1 }' "${dest}/${f}" | head -n 3)
            if [ -n "${dup}" ]; then
                echo "$0: ids with different contents in the sources' ${f}:" ${dup} >&2
                exit 1
            fi ;;
        *)
            same=true
            for s in "${srcs[@]}"; do cmp -s "${s}" "${srcs[0]}" || same=false; done
            if ${same}; then
                cp "${srcs[0]}" "${dest}/${f}"
            else
                echo "$0: warning: ${f} differs between the sources, not copied" >&2
                rm -f "${dest}/${f}"
            fi ;;
    esac
done

"${utils}/fix_data_dir.sh" "${dest}"
rm -rf "${dest}/.backup"
echo "$0: combined $# dirs into ${dest} ($(wc -l < "${dest}/utt2spk") utterances)"
