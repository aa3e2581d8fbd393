#!/usr/bin/env bash
# Make a Kaldi-style data dir consistent: sort every file with LC_ALL=C (one line per id), keep
# only the utterances present in all utterance-level files (utt2spk, wav.scp or segments, text,
# text.*, utt2*, feats.scp), drop recordings (wav.scp, reco2*) and speakers (spk2gender) nobody
# uses, regenerate spk2utt and report how many utterances were dropped. Other files are untouched.
# The original files are copied to <data-dir>/.backup/ first.
set -euo pipefail
export LC_ALL=C

utt_extra_files=   # more utterance-level files to keep in sync (names inside the data dir)
if [ $# -eq 3 ] && [[ "$1" == --utt[_-]extra[_-]files ]]; then utt_extra_files=$2; shift 2; fi
if [ $# -ne 1 ] || [[ "$1" == -* ]]; then
    echo "Usage: $0 [--utt_extra_files \"<file> ...\"] <data-dir>" >&2
    exit 1
fi
dir=$1
for f in utt2spk wav.scp; do
    [ -f "${dir}/${f}" ] || { echo "$0: ${dir}/${f} is missing" >&2; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "${tmp}"' EXIT

utils=$(dirname "$0")
# Sorted copy without empty lines and with one line per id (the first after sorting).
sorted_unique() { sort "$1" | awk 'NF == 0 { next } $1 != prev { print } { prev = $1 }'; }
keys() { awk '{ print $1 }' "$1" | sort; }
intersect() { comm -12 "${tmp}/kept" "$1" > "${tmp}/k"; mv "${tmp}/k" "${tmp}/kept"; }

# Utterance-level files present in the dir: utt2spk first, then text, text.*, segments,
# feats.scp, any other utt2* file and the --utt_extra_files.
utt_files=(utt2spk)
shopt -s nullglob
for f in text "${dir}"/text.* segments feats.scp "${dir}"/utt2* ${utt_extra_files}; do
    f=${f##*/}
    if [ -f "${dir}/${f}" ] && [[ " ${utt_files[*]} " != *" ${f} "* ]]; then utt_files+=("${f}"); fi
done
reco_files=()
for f in wav.scp reco2file_and_channel reco2dur reco2num_samples; do
    if [ -f "${dir}/${f}" ]; then reco_files+=("${f}"); fi
done

mkdir -p "${dir}/.backup"
for f in "${utt_files[@]}" "${reco_files[@]}" spk2utt spk2gender; do
    if [ -f "${dir}/${f}" ]; then
        cp "${dir}/${f}" "${dir}/.backup/${f}"
        sorted_unique "${dir}/${f}" > "${tmp}/${f}"
    fi
done

# The kept ids: in every utterance-level file, and with their audio in wav.scp.
keys "${tmp}/utt2spk" > "${tmp}/kept"
if [ -f "${tmp}/segments" ]; then   # wav.scp is keyed by recording
    "${utils}/filter_scp.sh" -f 2 "${tmp}/wav.scp" "${tmp}/segments" | keys /dev/stdin > "${tmp}/audio"
    all_ids=()
else
    keys "${tmp}/wav.scp" > "${tmp}/audio"
    all_ids=("${tmp}/wav.scp")
fi
intersect "${tmp}/audio"
for f in "${utt_files[@]}"; do
    keys "${tmp}/${f}" > "${tmp}/ids"
    intersect "${tmp}/ids"
    all_ids+=("${tmp}/${f}")
done
n_all=$(awk '{ print $1 }' "${all_ids[@]}" | sort -u | wc -l)
n_kept=$(wc -l < "${tmp}/kept")

# Write the filtered files back.
for f in "${utt_files[@]}"; do
    "${utils}/filter_scp.sh" "${tmp}/kept" "${tmp}/${f}" > "${dir}/${f}"
done
if [ -f "${tmp}/segments" ]; then
    awk '{ print $2 }' "${dir}/segments" | sort -u > "${tmp}/recos"
else
    cp "${tmp}/kept" "${tmp}/recos"
fi
for f in "${reco_files[@]}"; do
    "${utils}/filter_scp.sh" "${tmp}/recos" "${tmp}/${f}" > "${dir}/${f}"
done
"${utils}/utt2spk_to_spk2utt.sh" "${dir}/utt2spk" > "${dir}/spk2utt"
if [ -f "${tmp}/spk2gender" ]; then
    "${utils}/filter_scp.sh" "${dir}/spk2utt" "${tmp}/spk2gender" > "${dir}/spk2gender"
fi

echo "$0: ${dir}: kept ${n_kept} utterances, dropped $((n_all - n_kept)) not present in all of" \
     "${utt_files[*]} wav.scp"
if [ "${n_kept}" -eq 0 ]; then
    echo "$0: ${dir}: no utterance left" >&2
    exit 1
fi
