# shellcheck shell=bash
# Where the paper's corpora live. Stage 1 (local/data.sh) reads these variables.
# Point each at a local copy; empty = not available.
# shellcheck disable=SC2034  # read by local/data.sh, which sources this file
LIBRISPEECH=       # ASR eval: test-clean / test-other (openslr 12)
MLS=               # CPT ASR: Multilingual LibriSpeech, English part
GIGASPEECH=        # CPT ASR + pseudo-labelled ST
SPGISPEECH=        # CPT ASR + pseudo-labelled ST
VOXPOPULI=         # CPT ASR + ASR eval (English)
COMMONVOICE=       # IT ASR + pseudo-labelled ST (English)
COVOST2=           # IT ST + ST eval (en->de, en->zh)
FLEURS=            # IT ST + ASR/ST eval (en_us)
EUROPARL_ST=       # IT ST (en->de/fr/es/it/pt/nl)
TOWERBLOCKS=       # IT text data (TowerBlocks jsonl)
