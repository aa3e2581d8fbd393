#!/usr/bin/env bash
# SPIRE at full scale, the paper's settings: conf/spire.conf names the data roles (the dirs that
# local/data.sh prepares from the corpora of db.sh) and the DeepSpeed ZeRO-2 configs; spire.sh's
# defaults are the rest (HuBERT-large layer 22, K=5000, 4096-token sequences, CometKiwi filter at
# 0.85, spBLEU). Models come from local dirs (README.md, "Full scale"):
#   cmd_backend=slurm ./run.sh --ngpu 8 \
#       --ssl_model /models/hubert-large-ll60k --base_model /models/TowerBase-7B-v0.1 \
#       --pseudo_st_translator /models/TowerInstruct-13B-v0.1 --pseudo_st_qe_model /models/wmt22-cometkiwi-da \
#       --comet_model /models/wmt22-comet-da --flores200_spm /models/flores200_sacrebleu_tokenizer_spm.model
# ./run.sh --plan true checks the corpora, models and configs and estimates every stage first.
# A further --config FILE (e.g. a smaller run's sizes) or --option value overrides conf/spire.conf.
set -euo pipefail

./spire.sh --config conf/spire.conf "$@"
