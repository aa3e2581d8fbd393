#!/usr/bin/env bash
# SPIRE at full scale, the paper's settings (spire.sh's defaults: HuBERT-large layer 22, K=5000,
# 4096-token sequences, DeepSpeed ZeRO-2, CometKiwi filter at 0.85, spBLEU). Models come from
# local dirs, corpora from db.sh and local/data.sh (see README.md, "Full scale"):
#   cmd_backend=slurm ./run.sh --ngpu 8 \
#       --ssl_model /models/hubert-large-ll60k --base_model /models/TowerBase-7B-v0.1 \
#       --pseudo_st_translator /models/TowerInstruct-13B-v0.1 --pseudo_st_qe_model /models/wmt22-cometkiwi-da \
#       --comet_model /models/wmt22-comet-da --flores200_spm /models/flores200_sacrebleu_tokenizer_spm.model
# conf/train_{cpt,it}_spire.yaml hold the same hyper-parameters for ESPnet's own DDP
# (--lm_launcher espnet); ZeRO-3 variants are in conf/tuning/.
set -euo pipefail

train_set=train_asr            # CPT/IT speech: MLS en, GigaSpeech, SPGISpeech, VoxPopuli, CommonVoice, ...
valid_set=dev_asr
test_sets="librispeech_test_clean librispeech_test_other voxpopuli_test covost2_test fleurs_test"
cpt_config=conf/tuning/train_cpt_spire_deepspeed_zero2.yaml
it_config=conf/tuning/train_it_spire_deepspeed_zero2.yaml

./spire.sh --train_set "${train_set}" --valid_set "${valid_set}" --test_sets "${test_sets}" \
    --cpt_config "${cpt_config}" --it_config "${it_config}" "$@"
