#!/usr/bin/env bash
# Runs the test suite with the project's virtual environment (called by `make test`).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${SPIRE_VENV:-${root}/tools/venv}
cd "${root}"
export PATH="/usr/lib/sctk/bin:${PATH}" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUTF8=1
set +e
"${venv}/bin/python" -m pytest -q "$@" tests
rc=$?
set -e
if [ "${rc}" -eq 5 ]; then
    echo "tools/test.sh: pytest collected no tests" >&2
fi
exit "${rc}"
