# shellcheck shell=bash
# Sourced by launch_local.sh and launch_slurm.sh after their own options: parses the rest of
# the command line, [NAME=A:B] <log> <command> [args...], into job_var, first, last,
# log_template and cmd_template (the string bash -c runs), shifting it out of "$@".
# No "set -euo pipefail" here: this file is sourced.

# Job range: NAME=A:B, NAME=A, or nothing (one job, no substitution).
job_var=; first=1; last=1
if [ $# -gt 0 ] && [[ "$1" =~ ^([A-Za-z_][A-Za-z0-9_]*)=([0-9]+)(:([0-9]+))?$ ]]; then
    job_var=${BASH_REMATCH[1]}; first=${BASH_REMATCH[2]}; last=${BASH_REMATCH[4]:-$first}
    shift
    [ "${first}" -le "${last}" ] || { echo "$0: empty job range $first:$last" >&2; exit 1; }
fi
[ $# -ge 2 ] || usage
log_template=$1; shift
if [ -n "${job_var}" ] && [ "${first}" != "${last}" ] && [[ "${log_template}" != *"${job_var}"* ]]; then
    echo "$0: several jobs would share one log file: put ${job_var} in '${log_template}'" >&2
    exit 1
fi

# The command string that bash -c will run: one argument as it is; several arguments quoted,
# except bare shell operators (| || && ; > >> < 2>&1 ...), which stay operators.
if [ $# -eq 1 ]; then
    cmd_template=$1
else
    cmd_template=
    for arg in "$@"; do
        if [[ "${arg}" =~ ^(\||\|\||\|\&|\&\&|\;|[0-9]*(\<|\>|\>\>|\>\&|\&\>)([0-9]+)?)$ ]]; then
            cmd_template+="${arg} "
        else
            cmd_template+="$(printf '%q' "${arg}") "
        fi
    done
    cmd_template=${cmd_template% }
fi
