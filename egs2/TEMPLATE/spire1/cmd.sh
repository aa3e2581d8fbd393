#!/usr/bin/env bash
# Job backend of the recipe, sourced by run.sh / spire.sh (". ./cmd.sh").
# It defines the ESPnet command variables, used as
#   ${train_cmd} JOB=1:${nj} exp/x/log/stats.JOB.log python3 -m ... --part JOB
#   ${cuda_cmd} --gpu ${ngpu} exp/x/train.log python3 -m ...
#   ${decode_cmd} JOB=1:${nj} exp/x/log/decode.JOB.log python3 -m ...
# Options written by the caller come after the defaults below, so they override them.
#
# cmd_backend:
#   local  run the jobs on this machine (utils/launch_local.sh); the default
#   slurm  submit them as Slurm job arrays (utils/launch_slurm.sh, settings in conf/slurm.conf)
# Change the default here, or set cmd_backend in the environment: cmd_backend=slurm ./run.sh
# No "set -euo pipefail" here: this file is sourced and must not change the caller's shell options.

cmd_backend=${cmd_backend:-local}

case "${cmd_backend}" in
    local)
        export train_cmd="utils/launch_local.sh"
        export cuda_cmd="utils/launch_local.sh"
        export decode_cmd="utils/launch_local.sh"
        ;;
    slurm)
        export train_cmd="utils/launch_slurm.sh --config conf/slurm.conf"
        export cuda_cmd="utils/launch_slurm.sh --config conf/slurm.conf --gpu 1 --mem 16G"
        export decode_cmd="utils/launch_slurm.sh --config conf/slurm.conf --mem 8G"
        ;;
    *)
        echo "cmd.sh: unknown cmd_backend '${cmd_backend}' (use local or slurm)" >&2
        # shellcheck disable=SC2317  # "exit" is reached when this file is run instead of sourced
        return 1 2> /dev/null || exit 1
        ;;
esac
