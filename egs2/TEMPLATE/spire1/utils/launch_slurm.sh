#!/usr/bin/env bash
# Run a command as a Slurm job array and wait for it (the recipe's counterpart of Kaldi's slurm.pl).
# Same calling convention as utils/launch_local.sh.
set -euo pipefail

usage() {
    cat >&2 <<EOF
Usage: $0 [options] [JOB=A:B] <log-file> <command> [<arg> ...]
  Submits one "sbatch --array=A-B" job whose task i runs <command> with JOB replaced by i, writing
  <log-file> (JOB replaced too) with a header and a footer like launch_local.sh. The batch script
  is written to <log-dir>/q/<name>.sh, Slurm's own output to <log-dir>/q/<name>.<i>.out and
  each task's exit code to <log-dir>/q/<name>.<i>.status. Waits for the array (sbatch --wait)
  and fails if a task failed, naming its log.
Options (--name value or --name=value; '-' and '_' are interchangeable):
  --config FILE        settings (default: conf/slurm.conf; built-in defaults if it is missing)
  --gpu N              --gres=gpu:N                 --mem M          --mem=M
  --num_threads N      --cpus-per-task=N            --time T         --time=T
  --max_jobs_run M     --array=A-B%M                --partition P    --partition=P
  --dry_run true       print the sbatch command line and write the batch script, do not submit
                       (also enabled by the environment variable SPIRE_SLURM_DRY_RUN=1)
EOF
    exit 1
}

config=conf/slurm.conf; config_given=false
dry_run=false; [ "${SPIRE_SLURM_DRY_RUN:-0}" = 1 ] && dry_run=true
declare -A cli=()   # options from the command line, they win over the config
while [ $# -gt 0 ]; do
    case "$1" in
        --*=*) opt=${1%%=*}; val=${1#*=}; n=1 ;;
        --*) [ $# -ge 2 ] || usage; opt=$1; val=$2; n=2 ;;
        *) break ;;
    esac
    opt=${opt#--}; opt=${opt//-/_}
    case "${opt}" in
        config) config=$val; config_given=true ;;
        dry_run) dry_run=$val ;;
        gpu|mem|num_threads|time|max_jobs_run|partition) cli[$opt]=$val ;;
        *) echo "$0: unknown option --${opt}" >&2; usage ;;
    esac
    shift "$n"
done

# Settings: built-in defaults, then the config file, then the command line.
declare -A conf=([mem]=4G [num_threads]=1 [time]='' [gpu]=0 [max_jobs_run]='' [partition]=''
                [gpu_partition]='' [gres_type]=gpu [account]='' [qos]='' [extra_opts]='')
if [ -f "${config}" ]; then
    while IFS= read -r line || [ -n "${line}" ]; do
        line=${line%%#*}
        [[ "${line}" =~ ^[[:space:]]*$ ]] && continue
        if [[ ! "${line}" =~ ^[[:space:]]*([a-z_]+)[[:space:]]*=[[:space:]]*(.*[^[:space:]])?[[:space:]]*$ ]] \
            || [ -z "${conf[${BASH_REMATCH[1]}]+x}" ]; then
            echo "$0: bad line in ${config}: ${line}" >&2; exit 1
        fi
        conf[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
    done < "${config}"
elif ${config_given}; then
    echo "$0: config file ${config} not found" >&2; exit 1
fi
for key in "${!cli[@]}"; do conf[$key]=${cli[$key]}; done
case "${dry_run}" in true|false) ;; *) echo "$0: --dry_run takes true or false" >&2; exit 1 ;; esac

# Job range, log file and command (shared with launch_local.sh).
. "$(dirname "${BASH_SOURCE[0]}")/parse_job_spec.sh"

# Names: job name from the log file name ("x.JOB.log" -> "x"), files under <log-dir>/q/.
name=$(basename "${log_template}")
name=${name%.log}
if [ -n "${job_var}" ]; then name=${name//.${job_var}/}; name=${name//${job_var}/}; fi
name=${name//[^A-Za-z0-9_.-]/_}
name=${name:-job}
log_dir=$(dirname "${log_template}")
[ -z "${job_var}" ] || log_dir=${log_dir//${job_var}/${first}}
qdir=${log_dir}/q
script=${qdir}/${name}.sh
mkdir -p "${qdir}"

# The sbatch command line.
array="${first}-${last}"
[ -z "${conf[max_jobs_run]}" ] || array+="%${conf[max_jobs_run]}"
partition=${conf[partition]}
if [ "${conf[gpu]}" -gt 0 ] && [ -n "${conf[gpu_partition]}" ]; then partition=${conf[gpu_partition]}; fi
sbatch_cmd=(sbatch --wait "--job-name=${name}" "--array=${array}" "--output=${qdir}/${name}.%a.out")
[ -z "${partition}" ] || sbatch_cmd+=("--partition=${partition}")
[ -z "${conf[account]}" ] || sbatch_cmd+=("--account=${conf[account]}")
[ -z "${conf[qos]}" ] || sbatch_cmd+=("--qos=${conf[qos]}")
sbatch_cmd+=("--cpus-per-task=${conf[num_threads]}")
[ -z "${conf[mem]}" ] || sbatch_cmd+=("--mem=${conf[mem]}")
[ -z "${conf[time]}" ] || sbatch_cmd+=("--time=${conf[time]}")
[ "${conf[gpu]}" -eq 0 ] || sbatch_cmd+=("--gres=${conf[gres_type]}:${conf[gpu]}")
read -r -a extra <<< "${conf[extra_opts]}"
sbatch_cmd+=(${extra[@]+"${extra[@]}"} "${script}")
sbatch_line=$(printf '%q ' "${sbatch_cmd[@]}"); sbatch_line=${sbatch_line% }

# The batch script: one array task. Values are embedded in single quotes.
squote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
subst=
[ -z "${job_var}" ] || subst="log=\${log//${job_var}/\${id}}; cmd=\${cmd//${job_var}/\${id}}"
cat > "${script}" <<EOF
#!/usr/bin/env bash
# Written by launch_slurm.sh on $(date); submitted with:
# ${sbatch_line}
set -uo pipefail  # no -e: the exit code of the command is recorded below
cd $(squote "${PWD}")
id=\${SLURM_ARRAY_TASK_ID:?must run as a Slurm array task}
log=$(squote "${log_template}")
cmd=$(squote "${cmd_template}")
${subst}
mkdir -p "\$(dirname "\${log}")"
{
    echo "# \${cmd}"
    echo "# Started at \$(date) on \$(hostname) (Slurm job \${SLURM_ARRAY_JOB_ID:-?}_\${id})"
} > "\${log}"
start=\${SECONDS}
rc=0
bash -o pipefail -c "\${cmd}" >> "\${log}" 2>&1 < /dev/null || rc=\$?
echo "# Ended at \$(date) (elapsed \$((SECONDS - start))s), exit code \${rc}" >> "\${log}"
echo "\${rc}" > $(squote "${qdir}/${name}").\${id}.status
exit "\${rc}"
EOF
chmod +x "${script}"

if [ "${dry_run}" = true ]; then
    echo "${sbatch_line}"
    echo "$0: dry run, nothing submitted; batch script: ${script}" >&2
    exit 0
fi

for ((id = first; id <= last; id++)); do rm -f "${qdir}/${name}.${id}.status"; done
sbatch_rc=0
"${sbatch_cmd[@]}" > /dev/null || sbatch_rc=$?

n_failed=0; n_missing=0; failed_log=
for ((id = first; id <= last; id++)); do
    rc=$(cat "${qdir}/${name}.${id}.status" 2> /dev/null || echo missing)
    [ "${rc}" != missing ] || n_missing=$((n_missing + 1))
    if [ "${rc}" != 0 ]; then
        n_failed=$((n_failed + 1))
        if [ -z "${failed_log}" ]; then
            failed_log=${log_template}
            [ -z "${job_var}" ] || failed_log=${failed_log//${job_var}/${id}}
            [ "${rc}" != missing ] \
                || failed_log+=" (no exit code recorded: see ${qdir}/${name}.${id}.out)"
        fi
    fi
done
n_jobs=$((last - first + 1))
if [ "${n_missing}" -eq "${n_jobs}" ] && [ "${sbatch_rc}" -ne 0 ]; then
    echo "$0: sbatch failed (exit code ${sbatch_rc}): ${sbatch_line}" >&2
    exit 1
fi
if [ "${n_failed}" -gt 0 ]; then
    echo "$0: ${n_failed} / ${n_jobs} failed, log is in ${failed_log}" >&2
    exit 1
fi
