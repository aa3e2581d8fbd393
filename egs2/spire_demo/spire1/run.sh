#!/usr/bin/env bash
# The SPIRE demo: every stage on a generated corpus with toy models, on a laptop CPU.
#   the demo (stages 1-14, about 23 min on 2 cores): ./run.sh
#   smoke test of all stages (CI):        ./run.sh --config conf/smoke.conf
#   the paper's ablations at toy scale:   ./run.sh --variants "spirebase spirefull towerfull noblocks nopseudo"
# conf/demo.conf overlays the template's defaults (the paper's settings, egs2/spire/spire1) with
# the demo's; options given here override both.
set -euo pipefail

./spire.sh --config conf/demo.conf "$@"
