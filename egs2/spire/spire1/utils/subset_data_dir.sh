#!/usr/bin/env bash
# Copy a subset of the utterances of a Kaldi-style data dir into a new data dir.
set -euo pipefail
export LC_ALL=C

usage() {
    cat >&2 <<EOF2
Usage: $0 [--first | --last | --random [--seed <int>]] <src-dir> <num-utts> <dest-dir>
       $0 --utt_list <file> <src-dir> <dest-dir>     (utterance ids in the first column)
       $0 --spk_list <file> <src-dir> <dest-dir>     (all utterances of these speakers)
  --first (default) / --last take utterances in sorted order; --random draws <num-utts> with a
  seeded generator (default seed 0; same seed, same subset). Utterance-level files (utt2*, text,
  text.*, segments, feats.scp, wav.scp without segments) are filtered, other files copied, then
  fix_data_dir.sh sorts the result and rebuilds spk2utt.
EOF2
    exit 1
}

mode=first; seed=0; list=
while [ $# -gt 0 ]; do
    case "$1" in
        --first|--last|--random) mode=${1#--}; shift ;;
        --seed) [ $# -ge 2 ] || usage; seed=$2; shift 2 ;;
        --utt[_-]list|--spk[_-]list) [ $# -ge 2 ] || usage; mode=${1:2:3}; list=$2; shift 2 ;;
        -*) usage ;;
        *) break ;;
    esac
done
if [ -n "${list}" ]; then
    [ $# -eq 2 ] || usage
    src=$1; dest=$2
    [ -r "${list}" ] || { echo "$0: cannot read ${list}" >&2; exit 1; }
else
    if [ $# -ne 3 ] || [[ ! "$2" =~ ^[0-9]+$ ]] || [[ ! "${seed}" =~ ^[0-9]+$ ]]; then usage; fi
    src=$1; num=$2; dest=$3
fi
utils=$(dirname "$0")
[ -f "${src}/utt2spk" ] || { echo "$0: ${src}/utt2spk is missing" >&2; exit 1; }
[ "$(cd "${src}" && pwd)" != "$(mkdir -p "${dest}" && cd "${dest}" && pwd)" ] \
    || { echo "$0: <src-dir> and <dest-dir> are the same" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "${tmp}"' EXIT

# 1. The selected utterance ids, sorted.
awk '{ print $1 }' "${src}/utt2spk" | sort -u > "${tmp}/all"
case "${mode}" in
    utt) "${utils}/filter_scp.sh" "${list}" "${tmp}/all" > "${tmp}/ids" ;;
    spk) "${utils}/filter_scp.sh" -f 2 "${list}" "${src}/utt2spk" | awk '{ print $1 }' \
             | sort -u > "${tmp}/ids" ;;
    *)
        total=$(wc -l < "${tmp}/all")
        if [ "${num}" -gt "${total}" ]; then
            echo "$0: asked for ${num} utterances but ${src} has only ${total}" >&2; exit 1
        fi
        case "${mode}" in
            first) head -n "${num}" "${tmp}/all" > "${tmp}/ids" ;;
            last) tail -n "${num}" "${tmp}/all" > "${tmp}/ids" ;;
            random)
                python3 -c 'import random, sys
ids = sys.stdin.read().split()
for i in random.Random(int(sys.argv[2])).sample(ids, int(sys.argv[1])):
    print(i)' "${num}" "${seed}" < "${tmp}/all" | sort > "${tmp}/ids" ;;
        esac ;;
esac
[ -s "${tmp}/ids" ] || { echo "$0: no utterance selected" >&2; exit 1; }

# 2. Copy the files, filtering the utterance-level ones.
for path in "${src}"/*; do
    [ -f "${path}" ] || continue
    f=${path##*/}
    case "${f}" in
        spk2utt) continue ;;   # rebuilt by fix_data_dir.sh
        utt2*|text|text.*|segments|feats.scp) per_utt=true ;;
        wav.scp) if [ -f "${src}/segments" ]; then per_utt=false; else per_utt=true; fi ;;
        *) per_utt=false ;;
    esac
    if ${per_utt}; then
        "${utils}/filter_scp.sh" "${tmp}/ids" "${path}" > "${dest}/${f}"
    else
        cp "${path}" "${dest}/${f}"
    fi
done

# 3. Drop unused recordings/speakers, sort, rebuild spk2utt.
"${utils}/fix_data_dir.sh" "${dest}"
rm -rf "${dest}/.backup"
echo "$0: wrote $(wc -l < "${dest}/utt2spk") utterances to ${dest}"
