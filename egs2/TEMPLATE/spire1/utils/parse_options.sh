#!/usr/bin/env bash
# Command-line option parser for recipe scripts, meant to be *sourced*:
#
#   stage=1            # Processing starts from this stage.
#   use_gpu=false      # Booleans take the values true/false.
#   help_message="Usage: $0 [options] <data-dir>"
#   . utils/parse_options.sh
#   # "$@" now holds only the positional arguments.
#
# Accepted forms (each sets the shell variable foo_bar, which must already be defined):
#   --foo_bar VALUE    --foo-bar VALUE    --foo_bar=VALUE    --foo-bar=VALUE
# Rules:
#   * An option whose variable was not defined before sourcing is an error (exit 1).
#   * If the variable currently holds true/false, the new value must be true/false too.
#   * --help / -h print $help_message (or a generic line) and exit 0.
#   * --config FILE sources FILE (lines like "foo_bar=value") before any other option is applied,
#     so options given on the command line win regardless of their position. May be repeated.
#   * Parsing stops at the first argument that is not an option; "--" ends the options and is
#     dropped. Everything left stays in "$@".
#
# This file deliberately does not run "set -euo pipefail": it is sourced, so that would change the
# caller's shell options. It works with or without them. Its helper variables start with _po_ and
# are unset at the end.

# Pass 1: find --config files among the options and source them first.
_po_i=1
while [ "${_po_i}" -le $# ]; do
    _po_arg=${!_po_i}
    case "${_po_arg}" in
        --) break ;;
        --help|-h) break ;;
        --config=*) _po_file=${_po_arg#--config=} ;;
        --config)
            _po_i=$((_po_i + 1))
            if [ "${_po_i}" -gt $# ]; then
                echo "$0: option --config needs a value" >&2; exit 1
            fi
            _po_file=${!_po_i} ;;
        --*=*) _po_i=$((_po_i + 1)); continue ;;
        --?*) _po_i=$((_po_i + 2)); continue ;;   # skip the option and its value
        *) break ;;
    esac
    if [ ! -f "${_po_file}" ]; then
        echo "$0: config file '${_po_file}' not found" >&2; exit 1
    fi
    # shellcheck disable=SC1090
    . "${_po_file}"
    _po_i=$((_po_i + 1))
done

# Pass 2: assign the options, shifting them out of the caller's "$@".
while [ $# -gt 0 ]; do
    case "$1" in
        --) shift; break ;;
        --help|-h)
            if [ -n "${help_message:-}" ]; then
                printf '%s\n' "${help_message}"
            else
                echo "Usage: $0 [options] [args]  (options: --name value, see the variables in $0)"
            fi
            exit 0 ;;
        --*=*) _po_name=${1%%=*}; _po_value=${1#*=}; _po_n=1 ;;
        --?*)
            _po_name=$1
            if [ $# -lt 2 ]; then
                echo "$0: option $1 needs a value" >&2; exit 1
            fi
            _po_value=$2; _po_n=2 ;;
        *) break ;;
    esac
    _po_name=${_po_name#--}
    _po_name=${_po_name//-/_}
    if [[ ! "${_po_name}" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
        echo "$0: invalid option name '${1%%=*}'" >&2; exit 1
    fi
    if [ "${_po_name}" = config ]; then   # already sourced in pass 1
        shift "${_po_n}"; continue
    fi
    if [[ ! -v ${_po_name} ]]; then
        echo "$0: unknown option --${_po_name} (no such variable is defined by the script; see --help)" >&2
        exit 1
    fi
    case "${!_po_name}" in
        true|false)
            if [ "${_po_value}" != true ] && [ "${_po_value}" != false ]; then
                echo "$0: option --${_po_name} takes true or false, got '${_po_value}'" >&2
                exit 1
            fi ;;
    esac
    printf -v "${_po_name}" '%s' "${_po_value}"
    shift "${_po_n}"
done

unset _po_i _po_arg _po_file _po_name _po_value _po_n
true  # a sourced file returns its last status; never let it be a failure
