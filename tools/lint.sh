#!/usr/bin/env bash
# Lints the project (called by `make lint`): ruff over the Python code (rules in ruff.toml), then
# ShellCheck over the recipe and tool scripts (settings in .shellcheckrc). Fails on any finding.
set -euo pipefail
shopt -s globstar nullglob
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${SPIRE_VENV:-${root}/tools/venv}
cd "${root}"

if ! command -v shellcheck >/dev/null; then
    echo "tools/lint.sh: shellcheck not found; install it with: sudo apt-get install shellcheck" >&2
    exit 1
fi
rc=0
echo "ruff check (${venv}/bin/ruff)"
"${venv}/bin/ruff" check . || rc=1
scripts=(egs2/**/*.sh tools/*.sh .ci/run)
echo "shellcheck -x: ${#scripts[@]} scripts"
shellcheck -x "${scripts[@]}" || rc=1
exit "${rc}"
