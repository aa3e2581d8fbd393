#!/usr/bin/env bash
# SPIRE recipe, demo scale by default. Full scale: see README.md ("Full scale").
set -euo pipefail

train_set=demo_train
valid_set=demo_dev
test_sets="demo_test"

./spire.sh \
    --train_set "${train_set}" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" \
    "$@"
