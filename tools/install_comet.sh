#!/usr/bin/env bash
# Installs unbabel-comet into its own virtual environment, tools/comet_venv (`make install-comet`).
#
# unbabel-comet 2.2.7 needs transformers<5, numpy<2, protobuf<5, ... which conflict with the main
# stack (tools/venv, transformers 5), so espnet_spire runs COMET as a separate command: the
# scorer (espnet_spire/scoring/comet.py) calls this environment's python on our runner script.
# Pins (see the project's environment notes):
#   torch                      same pin as the main stack (override with COMET_TORCH, e.g. a CPU
#                              build: COMET_TORCH="torch==2.11.0+cpu" with a suitable index)
#   unbabel-comet==2.2.7
#   setuptools>=77.0.3,<81     torchmetrics 0.10.3 imports pkg_resources (gone in setuptools 81+)
#   sentencepiece==0.2.0       0.2.1+ needs protobuf>=5, which comet's pins exclude
# Idempotent: a stamp records the pins; a second run only checks the imports.
#
# Environment: COMET_VENV (default tools/comet_venv), PYTHON (default python3),
#              COMET_TORCH (default torch==2.11.0), COMET_PIP_ARGS (extra pip arguments).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${COMET_VENV:-${root}/tools/comet_venv}
python=${PYTHON:-python3}
torch_spec=${COMET_TORCH:-torch==2.11.0}
comet_spec="unbabel-comet==2.2.7"
extra_specs=("setuptools>=77.0.3,<81" "sentencepiece==0.2.0")
# shellcheck disable=SC2206
pip_args=(-q --disable-pip-version-check ${COMET_PIP_ARGS:-})

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (install_comet.sh) $*"; }

if [ ! -x "${venv}/bin/python" ]; then
    log "Creating virtual environment ${venv}"
    "${python}" -m venv "${venv}"
fi
vpy="${venv}/bin/python"

stamp="${venv}/.espnet_spire_comet_install"
want="${torch_spec} ${comet_spec} ${extra_specs[*]}"
if [ -f "${stamp}" ] && [ "$(cat "${stamp}")" = "${want}" ]; then
    log "COMET environment already installed in ${venv} (${want})"
else
    rm -f "${stamp}"
    log "Installing into ${venv}: ${want} (first time: 1-3 minutes, mostly torch)"
    "${vpy}" -m pip install "${pip_args[@]}" "pip<26"
    "${vpy}" -m pip install "${pip_args[@]}" "${torch_spec}"
    # torch stays as installed: the comet resolution only adds what torch does not provide.
    "${vpy}" -m pip install "${pip_args[@]}" "${torch_spec}" "${comet_spec}"
    "${vpy}" -m pip install "${pip_args[@]}" "${extra_specs[@]}"
fi

# Check the environment imports COMET offline (no model is loaded).
HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 "${vpy}" -W ignore - <<'PY'
import importlib.metadata as md
import comet, torch, transformers, sentencepiece, pkg_resources  # noqa: F401
from comet.models import RegressionMetric, ReferencelessRegression  # noqa: F401
print("comet env ok: unbabel-comet %s, torch %s, transformers %s, sentencepiece %s"
      % (md.version("unbabel-comet"), torch.__version__, transformers.__version__,
         sentencepiece.__version__))
PY
echo "${want}" > "${stamp}"
log "Done. The scorers find it by default; elsewhere pass --comet_python ${vpy}"
