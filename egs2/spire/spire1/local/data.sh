#!/usr/bin/env bash
# Stage 1 of the paper's recipe: Kaldi data dirs of the SPIRE corpora (db.sh).
# Their preparation is not written yet (issue #11); until then this script stops and says what
# stage 1 must produce, so that a run never falls back to another corpus silently.
set -euo pipefail

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (local/data.sh) $*" >&2; }

# shellcheck disable=SC2034  # spire.sh passes it; used once the preparation scripts exist
seed=0                 # Seed of data sampling.
check=false            # Only check that the corpora of db.sh are present (spire.sh --plan true); no output.
corpora="librispeech mls gigaspeech spgispeech voxpopuli commonvoice covost2 fleurs europarl_st towerblocks"

help_message="Usage: $0 [--seed N] [--check true] [--corpora \"librispeech mls ...\"]"
. utils/parse_options.sh

# corpus name -> "db.sh variable:top-level manifest (a glob, relative to the corpus dir)"
declare -A manifest=(
    [librispeech]="LIBRISPEECH:test-clean"
    [mls]="MLS:train/transcripts.txt"
    [gigaspeech]="GIGASPEECH:GigaSpeech.json"
    [spgispeech]="SPGISPEECH:train.csv"
    [voxpopuli]="VOXPOPULI:asr_train.tsv"
    [commonvoice]="COMMONVOICE:en/validated.tsv"
    [covost2]="COVOST2:covost_v2.en_*.tsv"
    [fleurs]="FLEURS:en_us/test.tsv"
    [europarl_st]="EUROPARL_ST:en/audios"
    [towerblocks]="TOWERBLOCKS:*"
)
if [ "${check}" = true ]; then
    # One line on stdout per problem (spire.sh --plan collects them); exit 1 when there is any.
    . ./db.sh
    problems=0
    for c in ${corpora}; do
        if [ -z "${manifest[${c}]+x}" ]; then
            echo "unknown corpus '${c}' in --corpora (known: ${!manifest[*]})"; problems=$((problems + 1)); continue
        fi
        var=${manifest[${c}]%%:*}
        want=${manifest[${c}]#*:}
        dir=${!var:-}
        if [ -z "${dir}" ]; then
            echo "corpus ${c}: ${var} is not set in db.sh"; problems=$((problems + 1))
        elif [ ! -d "${dir}" ]; then
            echo "corpus ${c}: ${var}=${dir} (db.sh) does not exist"; problems=$((problems + 1))
        elif ! compgen -G "${dir}/${want}" > /dev/null; then
            echo "corpus ${c}: ${var}=${dir} (db.sh) has no ${want}"; problems=$((problems + 1))
        fi
    done
    [ "${problems}" -eq 0 ] || exit 1
    log "every corpus of '${corpora}' is present"
    exit 0
fi

log "Error: the full-scale corpus preparation is not available yet (issue #11)."
log "Provide the Kaldi data dirs yourself (wav.scp text utt2spk spk2utt, and text.tc.<lang> for"
log "ST references), named as in run.sh: data/train_asr, data/dev_asr and each test set, then"
log "run from stage 2 (./run.sh --stage 2), or replace this script with your own preparation."
log "The demo recipe (egs2/spire_demo/spire1) runs every stage on a generated corpus."
exit 1
