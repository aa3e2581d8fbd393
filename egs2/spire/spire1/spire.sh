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

# ---------------------------------------------------------------- units (stages 3-5)
feature_type=hf_ssl         # hf_ssl (a local HuBERT/wav2vec2/WavLM dir) or mfcc (no weights).
ssl_model=""                # Local HF model dir, e.g. /models/hubert-large-ll60k.
ssl_layer=22                # Transformer layer whose output is clustered (SPIRE: 22).
ssl_dtype=fp32              # fp32 (SPIRE's paper setting) or bf16.
feats_batch_size=4          # Utterances per forward pass (sorted by length, masked).
feats_chunk_seconds=100     # Longer audio is encoded in chunks of this length.
nclusters=5000              # K of k-means.
kmeans_tag=""               # exp/kmeans/<tag>; default <feature_type>_k<nclusters>.
kmeans_model=""             # Existing k-means (joblib, centers.npy or dir): skips stages 3-4.
kmeans_portion=1.0          # Share of training utterances sampled for k-means.
kmeans_max_frames=2000000   # Cap on frames used by k-means (memory is bounded by it).
kmeans_batch_size=20000     # Mini-batch size of MiniBatchKMeans.
kmeans_max_iter=20          # Passes over the sampled frames.
kmeans_backend=sklearn      # sklearn (MiniBatchKMeans) or faiss.
dsu_format=pua              # pua (SPIRE), extra_id or indices.
dedup=true                  # Merge consecutive repeated units.

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
  --local_data_opts, --src_lang, --tgt_langs, --audio_format, --max_failed_ratio,
  --feature_type, --ssl_model, --ssl_layer, --ssl_dtype, --feats_batch_size, --feats_chunk_seconds,
  --nclusters, --kmeans_tag, --kmeans_model, --kmeans_portion, --kmeans_max_frames,
  --kmeans_batch_size, --kmeans_max_iter, --kmeans_backend, --dsu_format, --dedup
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

# stage_selected N: true when stage N is inside [stage, stop_stage] and not skipped (no output).
stage_selected() {
    [ "$1" -ge "${stage}" ] && [ "$1" -le "${stop_stage}" ] && [[ "${skip_list}" != *" $1 "* ]]
}

# run_stage N: stage_selected, with the log line of a skipped stage, and --dry_run.
run_stage() {
    local n=$1
    [ "${n}" -ge "${stage}" ] && [ "${n}" -le "${stop_stage}" ] || return 1
    current_stage=${n}
    if ! stage_selected "${n}"; then
        log "Stage ${n}: skipped"
        return 1
    fi
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
# ---------------------------------------------------------------- units: shared settings
[ -z "${kmeans_tag}" ] && kmeans_tag=${feature_type}_k${nclusters}
km_dir=${expdir}/kmeans/${kmeans_tag}
featdir=${expdir}/kmeans_feats/${kmeans_tag}
feature_opts="--feature_type ${feature_type} --layer ${ssl_layer} --dtype ${ssl_dtype}"
feature_opts+=" --batch_size ${feats_batch_size} --chunk_seconds ${feats_chunk_seconds}"
if [ "${feature_type}" = hf_ssl ]; then
    if [ -z "${ssl_model}" ] && [ "${dry_run}" = false ] && { stage_selected 3 || stage_selected 5; }; then
        log "Error: --feature_type hf_ssl needs --ssl_model <local HF model dir> (or use --feature_type mfcc)"
        exit 2
    fi
    feature_opts+=" --ssl_model ${ssl_model}"
fi
if [ "${ngpu}" -gt 0 ]; then
    units_cmd="${cuda_cmd} --gpu 1"; units_device=cuda
else
    units_cmd=${train_cmd}; units_device=cpu
fi

# ---------------------------------------------------------------- stage 3: SSL feature dump
if run_stage 3; then
    if [ -n "${kmeans_model}" ]; then
        log "Stage 3: skipped, --kmeans_model ${kmeans_model} is given"
    else
        log "Stage 3: ${feature_type} features of ${kmeans_portion} of ${train_set} (<= ${kmeans_max_frames} frames) -> ${featdir}"
        logdir=${featdir}/logdir
        mkdir -p "${logdir}"
        _nj=$(split_keys "${dumpdir}/raw/${train_set}/wav.scp" "${logdir}" "${nj}")
        # shellcheck disable=SC2086
        ${units_cmd} JOB=1:"${_nj}" "${logdir}/dump_ssl_feats.JOB.log" \
            ${python} -m espnet_spire.bin.dump_ssl_feats --data_dir "${dumpdir}/raw/${train_set}" \
                --key_file "${logdir}/keys.JOB.scp" --output_dir "${featdir}/output.JOB" \
                ${feature_opts} --device "${units_device}" --portion "${kmeans_portion}" \
                --max_frames $(( kmeans_max_frames / _nj )) --seed "${seed}"
        log "Stage 3: wrote ${featdir}/output.{1..${_nj}}"
    fi
fi

# ---------------------------------------------------------------- stage 4: k-means learning
if run_stage 4; then
    if [ -n "${kmeans_model}" ]; then
        log "Stage 4: skipped, using the k-means model ${kmeans_model}"
    else
        log "Stage 4: k-means K=${nclusters} (${kmeans_backend}) -> ${km_dir}"
        mkdir -p "${km_dir}"
        # shellcheck disable=SC2086
        ${train_cmd} "${km_dir}/learn_kmeans.log" \
            ${python} -m espnet_spire.bin.learn_kmeans --feats "${featdir}" --output_dir "${km_dir}" \
                --n_clusters "${nclusters}" --batch_size "${kmeans_batch_size}" \
                --max_iter "${kmeans_max_iter}" --backend "${kmeans_backend}" --seed "${seed}"
        log "Stage 4: wrote ${km_dir}: $(ls "${km_dir}" | tr '\n' ' ')"
    fi
fi

# ---------------------------------------------------------------- stage 5: unit labelling
if run_stage 5; then
    km=${kmeans_model:-${km_dir}}
    log "Stage 5: labelling with ${km} (${dsu_format}, dedup=${dedup}) -> ${dumpdir}/units/<set>"
    for dset in "${train_set}" "${valid_set}" ${test_sets}; do
        out=${dumpdir}/units/${dset}
        logdir=${out}/logdir
        mkdir -p "${logdir}"
        _nj=$(split_keys "${dumpdir}/raw/${dset}/wav.scp" "${logdir}" "${nj}")
        # Jobs finished by an earlier run are skipped (done markers hold a hash of their inputs).
        # shellcheck disable=SC2086
        ${units_cmd} JOB=1:"${_nj}" "${logdir}/label_units.JOB.log" \
            ${python} -m espnet_spire.bin.label_units label --data_dir "${dumpdir}/raw/${dset}" \
                --key_file "${logdir}/keys.JOB.scp" --kmeans "${km}" \
                --output_dir "${logdir}/output.JOB" ${feature_opts} --device "${units_device}" \
                --dsu_format "${dsu_format}" --dedup "${dedup}"
        ${python} -m espnet_spire.bin.label_units merge --logdir "${logdir}" --nj "${_nj}" \
            --output_dir "${out}" --max_failed_ratio "${max_failed_ratio}"
        log "Stage 5: wrote ${out}/units ($(wc -l < "${out}/units") utterances, $(wc -l < "${out}/failed") failed)"
    done
fi
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
