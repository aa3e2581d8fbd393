#!/usr/bin/env bash
# ESPnet training of a causal LLM on token files made by make_cpt_data / make_it_data.
# One script for every LLM the recipes train (CPT, IT, the demo's toy base), so that launchers,
# threads, resuming and log keeping are the same everywhere. Run from a recipe dir (./cmd.sh).
#
#   scripts/train_lm.sh [options] <exp_dir> <init_model_dir> <data_dir> <config> [training options...]
#
# Trains from <init_model_dir> on <data_dir>/{train,valid}/{input_ids,loss_mask}, resuming from
# <exp_dir>/checkpoint.pth when present, and fails unless <exp_dir>/hf_model was written.
set -euo pipefail

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (scripts/train_lm.sh) $*" >&2; }

ngpu=0              # GPUs (0: CPU).
launcher=espnet     # espnet (CPU / DDP), torchrun or deepspeed (one process per GPU).
nthreads=0          # CPU threads of the job; 0: all cores.
python=python3      # Python command.
seed=0              # Training seed.
resume_with_new_config=false  # Resume <exp_dir> although its recorded training config differs:
                    # keep weights and epoch count, restart optimizer and scheduler.

help_message="Usage: $0 [--ngpu N] [--launcher espnet|torchrun|deepspeed] [--nthreads N] [--python CMD] [--seed N] [--resume_with_new_config true|false] <exp_dir> <init_model_dir> <data_dir> <config> [training options...]"
. utils/parse_options.sh
if [ $# -lt 4 ]; then
    echo "${help_message}" >&2
    exit 2
fi
exp=$1 init=$2 data=$3 config=$4
shift 4

. ./cmd.sh

nproc=$(( ngpu > 0 ? ngpu : 2 ))
worker_ngpu=$(( ngpu > 0 ? 1 : 0 ))
case "${launcher}" in
    espnet) launch="${python} -m espnet_spire.bin.spire_lm_train"; worker_ngpu=${ngpu} ;;
    torchrun) launch="${python} -m torch.distributed.run --standalone --nproc_per_node ${nproc} -m espnet_spire.bin.spire_lm_train" ;;
    deepspeed) launch="deepspeed --num_gpus ${nproc} --module espnet_spire.bin.spire_lm_train" ;;
    *) log "Error: --launcher must be espnet, torchrun or deepspeed, not '${launcher}'"; exit 2 ;;
esac
if [ "${ngpu}" -gt 0 ]; then job_cmd="${cuda_cmd} --gpu ${ngpu}"; else job_cmd=${train_cmd}; fi
# path.sh pins OMP_NUM_THREADS=1 for the many parallel data jobs; a lone LLM job uses every core.
[ "${nthreads}" -gt 0 ] || nthreads=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)

data_args=()
for mode in train valid; do
    for name in input_ids loss_mask; do
        data_args+=("--${mode}_data_path_and_name_and_type" "${data}/${mode}/${name},${name},spire_text_int")
    done
done

mkdir -p "${exp}"
# A rerun (e.g. resuming, or a finished model met again) must not wipe the earlier log.
if [ -f "${exp}/train.log" ]; then
    n=1
    while [ -e "${exp}/train.log.${n}" ]; do n=$((n + 1)); done
    mv "${exp}/train.log" "${exp}/train.log.${n}"
    log "kept the previous log as ${exp}/train.log.${n}"
fi
log "training ${exp} from ${init} on ${data} (${config}, ${launcher}); log: ${exp}/train.log"
# A changed training config or a full disk is reported by the trainer as one "Error:" line.
# shellcheck disable=SC2086  # the job and launch commands are command lines split on spaces
if ! ${job_cmd} "${exp}/train.log" \
    env OMP_NUM_THREADS="${nthreads}" MKL_NUM_THREADS="${nthreads}" ${launch} --config "${config}" \
        --model_dir "${init}" --output_dir "${exp}" --ngpu "${worker_ngpu}" --seed "${seed}" \
        --resume true --resume_with_new_config "${resume_with_new_config}" "${data_args[@]}" "$@"; then
    log "Error: training ${exp} failed (see ${exp}/train.log)"
    grep -h '^Error: ' "${exp}/train.log" | tail -n 3 >&2 || true
    exit 1
fi
if [ ! -f "${exp}/hf_model/config.json" ]; then
    log "Error: ${exp}/hf_model was not written (see ${exp}/train.log)"
    exit 1
fi
