#!/usr/bin/env bash
# The demo's base LLM, its stand-in for TowerBase: a sentencepiece tokenizer and a tiny Llama
# trained on the demo's MT pairs and monolingual text. It plays the part of a downloaded base
# model: built once here (called by local/data.sh), given to stage 6 as --base_model <dir>/hf_model.
set -euo pipefail

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (local/make_toy_base.sh) $*" >&2; }

seed=0                 # Seed of the tokenizer, data mixing and training.
prefix=demo            # Text comes from data/<prefix>_mt_train, <prefix>_mono and <prefix>_dev.
src_lang=en
tgt_langs="de fr es it pt nl ru zh ko"
max_len=512            # Packed sequence length of its training data.
model_config=conf/toy_base.yaml            # Tokenizer size and Llama shape (not --config:
                                           # parse_options.sh sources a --config file).
train_config=conf/train_toy_base.yaml      # Text-only pre-training.
data_opts="--mt_directions random"         # Options of its training data (make_cpt_data).
out_dir=exp/toy_base   # The model is written to <out_dir>/hf_model.
dumpdir=dump           # Its token files go to <dumpdir>/lm/toy_base.
ngpu=0
python=python3

help_message="Usage: $0 [--seed N] [--prefix demo] [--model_config FILE] [--train_config FILE] [--out_dir DIR] ..."
. utils/parse_options.sh
. ./path.sh

if [ -f "${out_dir}/hf_model/config.json" ]; then
    log "${out_dir}/hf_model exists: nothing to do"
    exit 0
fi
mt_set=data/${prefix}_mt_train
mono=(data/"${prefix}"_mono/text.tc.*)
log "building the demo's base LLM (stand-in for TowerBase) -> ${out_dir}"
# shellcheck disable=SC2086  # python is a command line
${python} -m espnet_spire.bin.make_toy_base --config "${model_config}" \
    --text "${mt_set}"/text.tc.* "${mono[@]}" --output_dir "${out_dir}/init" --seed "${seed}"
for part in train valid; do
    mono_args=()
    opts=()
    if [ "${part}" = train ]; then
        mt_dir=${mt_set}
        for f in "${mono[@]}"; do mono_args+=(--mono "${f}"); done
        read -r -a opts <<< "${data_opts}"
    else
        mt_dir=data/${prefix}_dev
    fi
    # shellcheck disable=SC2086  # python is a command line, tgt_langs a list
    ${python} -m espnet_spire.bin.make_cpt_data --tokenizer_dir "${out_dir}/init" \
        --output_dir "${dumpdir}/lm/toy_base/${part}" --mt_dir "${mt_dir}" \
        --mt_langs ${tgt_langs} --src_lang "${src_lang}" "${mono_args[@]}" --speech_text_ratio none \
        --max_len "${max_len}" --seed "${seed}" "${opts[@]}"
done
scripts/train_lm.sh --ngpu "${ngpu}" --launcher espnet --python "${python}" --seed "${seed}" \
    "${out_dir}" "${out_dir}/init" "${dumpdir}/lm/toy_base" "${train_config}"
log "wrote ${out_dir}/hf_model"
