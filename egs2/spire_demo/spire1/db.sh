# shellcheck shell=bash
# Where the demo corpus comes from. Stage 1 (local/data.sh) reads this variable.
#
# DEMO=generate makes the synthetic demo corpus with the project's own generator (espeak-ng +
# hand-written multilingual grammar): no download, deterministic. Any other value is taken as a
# directory holding an already generated demo corpus (its data/ dirs are copied).
# shellcheck disable=SC2034  # read by local/data.sh, which sources this file
DEMO=generate
