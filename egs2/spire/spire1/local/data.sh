#!/usr/bin/env bash
# Stage 1 of the demo recipe: make data/demo_{train,dev,test} (speech + translations),
# data/demo_mt_train (parallel text) and data/demo_mono (monolingual text).
set -euo pipefail

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (local/data.sh) $*" >&2; }

seed=0                 # Seed of the demo generator (same seed: byte-identical corpus).
nj=2                   # Parallel synthesis workers.
prefix=demo            # Data dirs are data/<prefix>_*.
n_train=4000           # Distinct train sentences (one utterance each by default).
n_dev=250
n_test=250
n_mt=2000              # Text-only parallel sentences.
n_mono=500             # Text-only monolingual sentences.
train_renderings=1     # Voices per train sentence.
python=python3

help_message="Usage: $0 [--seed N] [--nj N] [--n_train N] [--n_dev N] [--n_test N] [--n_mt N] [--n_mono N] [--train_renderings N]"
. utils/parse_options.sh
. ./path.sh
. ./db.sh

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
    log "wrote ${d}: $(ls "${d}" | tr '\n' ' ')"
done
