#!/usr/bin/env bash
# spire.sh: the SPIRE pipeline as numbered stages, in the style of ESPnet's asr.sh.
# run.sh sets the recipe's defaults and calls this script; every option below can be given on
# the command line as --name value (or --name-with-dashes value).
set -euo pipefail

current_stage=0
log() {
    echo "$(date '+%Y-%m-%dT%H:%M:%S') (spire.sh:stage ${current_stage}) $*" >&2
}
SECONDS=0

# ---------------------------------------------------------------- general options
stage=1              # First stage to run.
stop_stage=15        # Last stage to run.
skip_stages=""       # Stages to skip, e.g. "3 4" (space or comma separated).
skip_upload=true     # Skip stage 15 (upload to the Hugging Face Hub).
nj=4                 # Number of parallel jobs for data processing stages.
inference_nj=4       # Number of parallel jobs for decoding.
ngpu=0               # Number of GPUs for training and decoding (0: CPU).
python=python3       # Python command (CI passes "coverage run --append").
dumpdir=dump         # Directory for dumped audio and units.
expdir=exp           # Directory for experiments.
seed=0               # Global seed of data-making stages.
dry_run=false        # Only list the stages that would run.

# ---------------------------------------------------------------- data
train_set=demo_train        # Training data dir under data/.
valid_set=demo_dev          # Validation data dir under data/.
test_sets="demo_test"       # Test data dirs under data/.
local_data_opts=""          # Options passed to local/data.sh.
src_lang=en                 # Language of the speech.
tgt_langs="de fr es it pt nl ru zh ko"   # Translation targets (ESPnet-ST codes).

# ---------------------------------------------------------------- audio
audio_format=wav            # Format of dumped 16 kHz mono audio (wav or flac).
max_failed_ratio=0.05       # A stage fails when more than this share of utterances is unusable.

help_message=$(cat <<EOF
Usage: $0 [options]
Stages (run with --stage N --stop_stage M, skip some with --skip_stages "N M"):
   1  data preparation (local/data.sh -> data/<set>/)
   2  audio formatting (16 kHz mono -> ${dumpdir}/raw/<set>/)
   3  SSL feature dump for k-means learning
   4  k-means learning (${expdir}/kmeans/<tag>/); skipped with --kmeans_model
   5  unit labelling (${dumpdir}/units/<set>/units)
   6  tokenizer and model extension (units as new tokens)
   7  CPT data (ASR + MT + monolingual text, packed)
   8  CPT training (SpireBase)
   9  pseudo-labelled speech translation (MT + CometKiwi filter)
  10  IT data (ChatML: ASR, ST, multi-turn ST, MT)
  11  IT training (SpireFull and variants)
  12  decoding (greedy, batched)
  13  scoring (WER/CER, BLEU/chrF/spBLEU, COMET) and RESULTS.md
  14  export (Hugging Face model dir) and pack
  15  upload (skipped unless --skip_upload false)
Options:
  --stage, --stop_stage, --skip_stages, --skip_upload, --nj, --inference_nj, --ngpu,
  --python, --dumpdir, --expdir, --seed, --dry_run, --train_set, --valid_set, --test_sets,
  --local_data_opts, --src_lang, --tgt_langs, --audio_format, --max_failed_ratio
EOF
)

log "$0 $*"
run_args=$(printf '%q ' "$0" "$@")
. utils/parse_options.sh
if [ $# -ne 0 ]; then
    log "Error: unexpected positional arguments: $*"
    echo "${help_message}" >&2
    exit 2
fi

. ./path.sh
. ./cmd.sh

# ---------------------------------------------------------------- stage gating
skip_list=" ${skip_stages//,/ } "
[ "${skip_upload}" = true ] && skip_list+="15 "

# run_stage N: true when stage N is inside [stage, stop_stage] and not skipped.
run_stage() {
    local n=$1
    [ "${n}" -ge "${stage}" ] && [ "${n}" -le "${stop_stage}" ] || return 1
    if [[ "${skip_list}" == *" ${n} "* ]]; then
        current_stage=${n}
        log "Stage ${n}: skipped"
        return 1
    fi
    current_stage=${n}
    if [ "${dry_run}" = true ]; then
        log "Stage ${n}: would run"
        return 1
    fi
    return 0
}

# not_implemented N WHAT: a stage that a later issue delivers must fail loudly, never pretend.
not_implemented() {
    log "Error: stage $1 ($2) is not implemented yet in this version of espnet_spire."
    log "Run up to stage $(( $1 - 1 )) with --stop_stage $(( $1 - 1 )), or skip it with --skip_stages $1."
    exit 3
}

mkdir -p "${expdir}"
echo "${run_args}" > "${expdir}/spire.sh.last_command"

# ---------------------------------------------------------------- stage 1: data preparation
if run_stage 1; then
    log "Stage 1: data preparation: local/data.sh ${local_data_opts}"
    # shellcheck disable=SC2086
    local/data.sh --seed "${seed}" ${local_data_opts}
    for dset in "${train_set}" "${valid_set}" ${test_sets}; do
        utils/validate_data_dir.sh --python "${python}" "data/${dset}"
    done
    log "Stage 1: wrote and validated data/{${train_set},${valid_set},${test_sets// /,}}"
fi

# ---------------------------------------------------------------- stages 2-15
# split_keys SRC LOGDIR NJ: write LOGDIR/keys.{1..n}.scp (n = min(NJ, lines)); prints n.
split_keys() {
    local src=$1 logdir=$2 n=$3 num
    num=$(wc -l < "${src}")
    [ "${num}" -lt "${n}" ] && n=${num}
    local files=()
    for i in $(seq "${n}"); do files+=("${logdir}/keys.${i}.scp"); done
    utils/split_scp.sh "${src}" "${files[@]}"
    echo "${n}"
}

# ---------------------------------------------------------------- stage 2: audio formatting
if run_stage 2; then
    log "Stage 2: audio formatting (16 kHz mono ${audio_format}) -> ${dumpdir}/raw/<set>"
    for dset in "${train_set}" "${valid_set}" ${test_sets}; do
        data=data/${dset}
        out=${dumpdir}/raw/${dset}
        logdir=${out}/logs
        mkdir -p "${logdir}"
        key_src=${data}/wav.scp
        [ -f "${data}/segments" ] && key_src=${data}/segments
        _nj=$(split_keys "${key_src}" "${logdir}" "${nj}")
        # Jobs finished by an earlier run (done marker) are skipped.
        # shellcheck disable=SC2086
        ${train_cmd} JOB=1:"${_nj}" "${logdir}/format.JOB.log" \
            ${python} -m espnet_spire.bin.format_wav_scp \
                --data_dir "${data}" --key_file "${logdir}/keys.JOB.scp" \
                --out_dir "${out}" --job JOB --fs 16000 --audio_format "${audio_format}"
        # Sorted wav.scp/utt2num_samples/failed and the data files of the survivors; fails when
        # more than max_failed_ratio of the utterances are unusable.
        # shellcheck disable=SC2086
        ${python} -m espnet_spire.bin.format_wav_scp --merge --data_dir "${data}" \
            --out_dir "${out}" --nj "${_nj}" --max_failed_ratio "${max_failed_ratio}"
        utils/validate_data_dir.sh --python "${python}" --nj "${nj}" "${out}"
        log "Stage 2: wrote ${out} ($(wc -l < "${out}/wav.scp") utterances, $(wc -l < "${out}/failed" 2>/dev/null || echo 0) failed)"
    done
fi
if run_stage 3; then not_implemented 3 "SSL feature dump"; fi
if run_stage 4; then not_implemented 4 "k-means learning"; fi
if run_stage 5; then not_implemented 5 "unit labelling"; fi
if run_stage 6; then not_implemented 6 "tokenizer and model extension"; fi
if run_stage 7; then not_implemented 7 "CPT data"; fi
if run_stage 8; then not_implemented 8 "CPT training"; fi
if run_stage 9; then not_implemented 9 "pseudo-labelled ST"; fi
if run_stage 10; then not_implemented 10 "IT data"; fi
if run_stage 11; then not_implemented 11 "IT training"; fi
if run_stage 12; then not_implemented 12 "decoding"; fi
if run_stage 13; then not_implemented 13 "scoring"; fi
if run_stage 14; then not_implemented 14 "export and pack"; fi
if run_stage 15; then not_implemented 15 "upload"; fi

current_stage=done
log "Successfully finished. [elapsed=${SECONDS}s]"
