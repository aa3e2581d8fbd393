# shellcheck shell=bash
# Where the corpora live. Stage 1 (local/data.sh) reads these variables.
#
# DEMO=generate makes the synthetic demo corpus with the project's own generator (espeak-ng +
# hand-written multilingual grammar): no download, deterministic. Any other value is taken as a
# directory holding an already generated demo corpus (its data/ dirs are copied).
DEMO=generate

# The paper's corpora (full scale). Point each at a local copy; preparation comes with the
# full-scale data scripts (local/data_full.sh, not yet available). Empty = not available.
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
