#!/usr/bin/env bash
# SPIRE recipe. Demo scale by default (conf/demo.conf): ./run.sh
#   smoke test of all stages (CI):        ./run.sh --config conf/smoke.conf
#   the paper's ablations at toy scale:   ./run.sh --variants "spirebase spirefull towerfull noblocks nopseudo"
#   full scale: see README.md ("Full scale") and conf/full.conf.
set -euo pipefail

./spire.sh --config conf/demo.conf "$@"
