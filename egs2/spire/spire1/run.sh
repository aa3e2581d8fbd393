#!/usr/bin/env bash
# SPIRE recipe, demo scale by default. Full scale: see README.md ("Full scale").
set -euo pipefail

train_set=demo_train
valid_set=demo_dev
test_sets="demo_test"
feature_type=mfcc    # demo: MFCC units (no SSL weights needed); full scale: hf_ssl + ssl_model
nclusters=200

./spire.sh \
    --train_set "${train_set}" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" \
    --feature_type "${feature_type}" \
    --nclusters "${nclusters}" \
    --kmeans_batch_size 10000 \
    "$@"
