#!/usr/bin/env bash
# Stage 1 of the demo recipe (spire.sh calls it with --seed and ${local_data_opts}):
#   stage 1: data/demo_{train,dev,test} (speech + translations), data/demo_mt_train (parallel
#            text) and data/demo_mono (monolingual text);
#   stage 2: the demo's base LLM from that text (local/make_toy_base.sh -> exp/toy_base/hf_model),
#            which the recipe's stage 6 takes as --base_model, like a downloaded TowerBase.
set -euo pipefail

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (local/data.sh) $*" >&2; }

stage=1                # 1: corpus, 2: toy base LLM.
stop_stage=2
seed=0                 # Seed of the demo generator (same seed: byte-identical corpus) and the toy base.
nj=2                   # Parallel synthesis workers.
prefix=demo            # Data dirs are data/<prefix>_*.
n_train=4000           # Distinct train sentences (one utterance each by default).
n_dev=250
n_test=250
n_mt=2000              # Text-only parallel sentences.
n_mono=500             # Text-only monolingual sentences.
train_renderings=1     # Voices per train sentence.
python=python3
check=false            # Only check the inputs (spire.sh --plan true): the demo generates its corpus.
toy_base_config=conf/toy_base.yaml               # toy base: tokenizer size and Llama shape
toy_base_train_config=conf/train_toy_base.yaml   # toy base: text-only pre-training

help_message="Usage: $0 [--stage 1] [--stop_stage 2] [--seed N] [--nj N] [--n_train N] [--n_dev N] [--n_test N] [--n_mt N] [--n_mono N] [--train_renderings N] [--check true] [--toy_base_config FILE] [--toy_base_train_config FILE]"
. utils/parse_options.sh
if [ $# -ne 0 ]; then
    log "Error: unexpected positional arguments: $*"
    exit 2
fi
. ./path.sh
. ./db.sh

if [ "${check}" = true ]; then
    # One line on stdout per problem; the generated corpus needs nothing.
    if [ "${DEMO}" != generate ] && [ ! -d "${DEMO}/data" ]; then
        echo "demo corpus: DEMO=${DEMO} in db.sh is neither 'generate' nor a directory with data/"
        exit 1
    fi
    exit 0
fi

if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
    if [ "${DEMO}" = generate ]; then
        log "Generating the demo corpus (seed ${seed}) into data/ and downloads/demo/"
        ${python} -m espnet_spire.bin.make_demo_corpus --data_dir data --audio_dir downloads/demo \
            --prefix "${prefix}" --seed "${seed}" --nj "${nj}" --n_train "${n_train}" \
            --n_dev "${n_dev}" --n_test "${n_test}" --n_mt "${n_mt}" --n_mono "${n_mono}" \
            --train_renderings "${train_renderings}"
    elif [ -d "${DEMO}/data" ]; then
        log "Copying an existing demo corpus from ${DEMO}"
        mkdir -p data
        cp -r "${DEMO}"/data/"${prefix}"_* data/
    else
        log "Error: DEMO=${DEMO} in db.sh is neither 'generate' nor a directory with data/"
        exit 1
    fi
    for d in data/"${prefix}"_train data/"${prefix}"_dev data/"${prefix}"_test data/"${prefix}"_mt_train data/"${prefix}"_mono; do
        log "wrote ${d}: $(cd "${d}" && printf '%s ' *)"
    done
fi

if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ]; then
    local/make_toy_base.sh --seed "${seed}" --prefix "${prefix}" --python "${python}" \
        --model_config "${toy_base_config}" --train_config "${toy_base_train_config}"
fi
