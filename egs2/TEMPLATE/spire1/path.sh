# shellcheck shell=bash
# Environment of the spire1 recipes. Each recipe links to this file (egs2/<recipe>/spire1/path.sh)
# and sources it as ./path.sh from its own dir (run.sh, spire.sh, every job), so the repository
# root is three levels above the recipe, whichever recipe it is (SPIRE_ROOT overrides it, e.g. for
# a copy of a recipe outside egs2/). Works both inside the espnet_spire repository and when
# egs2/TEMPLATE/spire1 and a recipe are copied into an ESPnet checkout (then the Python
# environment is ESPnet's, with espnet_spire pip-installed into it).

MAIN_ROOT=${SPIRE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
export MAIN_ROOT

# Python: our own venv (tools/install.sh) or ESPnet's activation script, unless one is active.
if [ -z "${VIRTUAL_ENV:-}" ] && [ -z "${CONDA_PREFIX:-}" ]; then
    if [ -x "${MAIN_ROOT}/tools/venv/bin/python" ]; then
        export VIRTUAL_ENV="${MAIN_ROOT}/tools/venv"
        export PATH="${VIRTUAL_ENV}/bin:${PATH}"
    elif [ -f "${MAIN_ROOT}/tools/activate_python.sh" ]; then
        # shellcheck disable=SC1091
        . "${MAIN_ROOT}/tools/activate_python.sh"
    fi
fi
# Inside the source tree the package is importable even before `pip install -e .`.
if [ -d "${MAIN_ROOT}/espnet_spire" ]; then
    export PYTHONPATH="${MAIN_ROOT}${PYTHONPATH:+:${PYTHONPATH}}"
fi

# sclite from Debian's sctk is not on PATH by default.
[ -d /usr/lib/sctk/bin ] && export PATH="${PATH}:/usr/lib/sctk/bin"

# Byte-wise sorting of Kaldi-style files, UTF-8 for Python whatever the locale.
export LC_ALL=C
export PYTHONIOENCODING=UTF-8
export PYTHONUTF8=1
# Never reach for a model hub: every model comes from a local directory.
export HF_HUB_OFFLINE=1
export TRANSFORMERS_OFFLINE=1
export HF_DATASETS_OFFLINE=1
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
