# shellcheck shell=bash
# Where the paper's corpora live, each as distributed (README, "Full scale"). Stage 1
# (local/data.sh) prepares every one of them; point each at a local copy (empty = not available:
# stage 1 and ./run.sh --plan true then stop and name it).
# shellcheck disable=SC2034  # read by local/data.sh, which sources this file
LIBRISPEECH=       # ASR test: dir holding LibriSpeech/test-{clean,other} (openslr 12)
MLS=               # CPT speech + k-means: mls_english (or mls_english_opus) dir (openslr 94)
GIGASPEECH=        # CPT speech + pseudo-ST source: dir of GigaSpeech.json and audio/ (decrypted)
SPGISPEECH=        # CPT speech + pseudo-ST source: dir of {train,val}.csv and {train,val}/
VOXPOPULI=         # CPT speech + k-means + ASR test: dir holding transcribed_data/en/
COMMONVOICE=       # IT ASR + pseudo-ST source: dir holding cv-corpus-18.0-*/en/
COVOST2=           # gold ST + ST test: dir of covost_v2.en_{de,zh-CN}.tsv
COVOST2_CV=        # Common Voice release holding en/clips for CoVoST-2 (empty: COMMONVOICE's)
FLEURS=            # gold ST + ASR/ST test: google/fleurs data/ (en_us/, <lang>/)
EUROPARL_ST=       # gold ST: Europarl-ST v1.1/ (en/audios, en/<xx>/<split>/)
FLORES200=         # text test + FLEURS overlap filter: dir holding flores200_dataset/ (devtest)
WMT23=             # text test: dir holding wmt23-news-systems-v.0.1/ (or its xml/, txt/)
TOWERBLOCKS=       # IT text: TowerBlocks release (jsonl or parquet)
TOWER_CPT_TEXT=    # CPT text: Tower-style mono/ and parallel/ text (plain or jsonl)
