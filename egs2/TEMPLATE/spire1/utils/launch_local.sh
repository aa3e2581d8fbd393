#!/usr/bin/env bash
# Run a command as N parallel jobs on this machine (the recipe's counterpart of Kaldi's run.pl).
set -euo pipefail

usage() {
    cat >&2 <<EOF
Usage: $0 [options] [JOB=A:B] <log-file> <command> [<arg> ...]
  Runs <command> once for each index A..B (at most --max_jobs_run at a time). The literal string
  JOB (or the name used before '=') in <log-file> and in the command is replaced by the index.
  Without JOB=A:B a single job runs and nothing is substituted.
  Each job writes stdout+stderr to its own log, framed by a header and a footer with the exit code.
  The command runs with "bash -o pipefail -c": a single argument is used verbatim ("a | b" is
  a pipeline); with several arguments each is quoted, except bare operators such as '|' '>' '&&'.
Options (--name value, --name=value; '-' and '_' are interchangeable):
  --max_jobs_run N   jobs running at once (default: all)
  --gpu N            N>0: give each job N devices out of \$CUDA_VISIBLE_DEVICES (or nvidia-smi -L),
                     round-robin by job index; with no GPU visible it is ignored. 0: untouched.
  --num_threads N    exported to the jobs as OMP_NUM_THREADS
  --mem M, --time T  accepted for compatibility with launch_slurm.sh, ignored here
EOF
    exit 1
}

max_jobs_run=; gpu=0; num_threads=
while [ $# -gt 0 ]; do
    case "$1" in
        --*=*) opt=${1%%=*}; val=${1#*=}; n=1 ;;
        --*) [ $# -ge 2 ] || usage; opt=$1; val=$2; n=2 ;;
        *) break ;;
    esac
    case "${opt//-/_}" in
        __max_jobs_run) max_jobs_run=$val ;;
        __gpu) gpu=$val ;;
        __num_threads) num_threads=$val ;;
        __mem|__time) ;;
        *) echo "$0: unknown option ${opt}" >&2; usage ;;
    esac
    shift "$n"
done

# Job range, log file and command (shared with launch_slurm.sh).
. "$(dirname "${BASH_SOURCE[0]}")/parse_job_spec.sh"

# Devices that --gpu hands out.
gpu_pool=()
if [ "${gpu}" -gt 0 ]; then
    if [ -n "${CUDA_VISIBLE_DEVICES:-}" ]; then
        IFS=, read -r -a gpu_pool <<< "${CUDA_VISIBLE_DEVICES}"
    elif command -v nvidia-smi > /dev/null 2>&1; then
        n_gpu=$(nvidia-smi -L 2> /dev/null | grep -c '^GPU' || true)
        for ((k = 0; k < n_gpu; k++)); do gpu_pool+=("$k"); done
    fi
fi

# Run one job: $1 = job index (empty without a range).
run_job() {
    local id=$1 log=${log_template} cmd=${cmd_template} devices='' k rc start
    if [ -n "${job_var}" ]; then
        log=${log//${job_var}/${id}}; cmd=${cmd//${job_var}/${id}}
    fi
    if [ "${#gpu_pool[@]}" -gt 0 ]; then
        for ((k = 0; k < gpu && k < ${#gpu_pool[@]}; k++)); do
            devices+="${devices:+,}${gpu_pool[$(( ((${id:-1} - first) * gpu + k) % ${#gpu_pool[@]} ))]}"
        done
        export CUDA_VISIBLE_DEVICES=${devices}
    fi
    [ -z "${num_threads}" ] || export OMP_NUM_THREADS=${num_threads}
    mkdir -p "$(dirname "${log}")"
    {
        echo "# ${cmd}"
        echo "# Started at $(date) on $(hostname)${devices:+ (CUDA_VISIBLE_DEVICES=${devices})}"
    } > "${log}"
    start=${SECONDS}
    rc=0
    bash -o pipefail -c "${cmd}" >> "${log}" 2>&1 < /dev/null || rc=$?
    echo "# Ended at $(date) (elapsed $((SECONDS - start))s), exit code ${rc}" >> "${log}"
    echo "${rc}" > "${status_dir}/${id:-1}"
}

status_dir=$(mktemp -d)
trap 'rm -rf "${status_dir}"' EXIT
trap 'kill $(jobs -p) 2> /dev/null; exit 130' INT TERM

[ -n "${max_jobs_run}" ] || max_jobs_run=$((last - first + 1))
[ "${max_jobs_run}" -ge 1 ] || { echo "$0: --max_jobs_run must be >= 1" >&2; exit 1; }
for ((id = first; id <= last; id++)); do
    while [ "$(jobs -rp | wc -l)" -ge "${max_jobs_run}" ]; do
        wait -n 2> /dev/null || sleep 0.1   # wait -n needs bash >= 4.3
    done
    run_job "${job_var:+${id}}" &
done
wait

# Collect the exit codes.
n_failed=0; failed_log=
for ((id = first; id <= last; id++)); do
    rc=$(cat "${status_dir}/${id}" 2> /dev/null || echo missing)
    if [ "${rc}" != 0 ]; then
        n_failed=$((n_failed + 1))
        if [ -z "${failed_log}" ]; then
            failed_log=${log_template}
            [ -z "${job_var}" ] || failed_log=${failed_log//${job_var}/${id}}
        fi
    fi
done
if [ "${n_failed}" -gt 0 ]; then
    if [ -n "${job_var}" ]; then
        echo "$0: ${n_failed} / $((last - first + 1)) failed, log is in ${failed_log}" >&2
    else
        echo "$0: job failed, log is in ${failed_log}" >&2
    fi
    # the error lines of that log (ESPnet's "ERROR:", our "Error:"), so the cause shows here
    grep -E '(^| )(ERROR|Error): ' "${failed_log}" 2> /dev/null | tail -n 3 | sed 's/^/    /' >&2 || true
    exit 1
fi
