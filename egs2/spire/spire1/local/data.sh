#!/usr/bin/env bash
# Stage 1 of the paper's recipe: Kaldi data dirs of the SPIRE corpora (db.sh).
# Their preparation is not written yet (issue #11); until then this script stops and says what
# stage 1 must produce, so that a run never falls back to another corpus silently.
set -euo pipefail

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (local/data.sh) $*" >&2; }

# shellcheck disable=SC2034  # spire.sh passes it; used once the preparation scripts exist
seed=0                 # Seed of data sampling.

help_message="Usage: $0 [--seed N]"
. utils/parse_options.sh

log "Error: the full-scale corpus preparation is not available yet (issue #11)."
log "Provide the Kaldi data dirs yourself (wav.scp text utt2spk spk2utt, and text.tc.<lang> for"
log "ST references), named as in run.sh: data/train_asr, data/dev_asr and each test set, then"
log "run from stage 2 (./run.sh --stage 2), or replace this script with your own preparation."
log "The demo recipe (egs2/spire_demo/spire1) runs every stage on a generated corpus."
exit 1
