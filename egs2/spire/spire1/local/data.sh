#!/usr/bin/env bash
# Stage 1 of the paper's recipe: Kaldi data dirs of the SPIRE corpora named in db.sh, then the
# subsets the paper's data rules make of them (README, "Full scale"). Every size is an option with
# the paper's number as its default, so a smaller run changes settings only. Idempotent: a data
# dir whose corpus.json (combined_from.json for joined dirs) exists is not redone.
#   stage 1: each corpus -> data/<corpus dirs> (python -m espnet_spire.bin.prepare_corpus)
#   stage 2: gold ST dirs: CoVoST-2/FLEURS pairs joined (<corpus>_en_<split>_st), Europarl-ST
#            pairs with tagged ids (europarl_st_en_<xx>_train_st)
#   stage 3: the k-means subset (CoVoST-2 <= 8/speaker, VoxPopuli <= 250/speaker, MLS)
#   stage 4: pseudo-ST sources: 300k transcripts each of Common Voice, SPGISpeech, GigaSpeech
#   stage 5: list what was written
set -euo pipefail

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (local/data.sh) $*" >&2; }

stage=1                # First stage of this script.
stop_stage=100         # Last stage of this script.
seed=0                 # Seed of data sampling (spire.sh --seed).
python=python3         # Python command.
data_root=data         # Where the data dirs are written.
check=false            # Only check that the corpora of db.sh are present (spire.sh --plan true); no output.
corpora="librispeech mls gigaspeech spgispeech voxpopuli commonvoice covost2 fleurs europarl_st flores200 wmt23 towerblocks tower_cpt_text"
# Corpus options (paper's defaults).
librispeech_parts="test-clean test-other"   # LibriSpeech parts (test sets of the paper).
gigaspeech_subsets=XL                        # GigaSpeech subsets (XL DEV TEST ...); the first is the training one.
mls_max_per_speaker=13                      # MLS CPT copy: at most this many transcripts per speaker.
cv_min_seconds=3                            # Common Voice IT ASR copy: at least this long.
cv_max_speakers_per_text=4                  # Common Voice IT ASR copy: at most this many speakers per transcript.
covost2_langs="de zh"                       # CoVoST-2 targets.
fleurs_langs="de fr es it pt nl ru zh ko"   # FLEURS reference languages.
europarl_st_langs="de es fr it nl pt"       # Europarl-ST targets.
flores200_langs=""                          # FLORES-200 languages (empty: the module's default).
wmt23_pairs=""                              # WMT23 directions, e.g. "en-de de-en" (empty: the module's default).
# Subset sizes (paper §3.1, §3.3.1).
kmeans_covost_files=62000                   # CoVoST-2 files of the k-means subset...
kmeans_covost_max_per_speaker=8             # ... at most this many per speaker.
kmeans_voxpopuli_files=65000                # VoxPopuli files of the k-means subset...
kmeans_voxpopuli_max_per_speaker=250        # ... at most this many per speaker.
kmeans_mls_files=107000                     # MLS files of the k-means subset.
pseudo_st_source_size=300000                # Transcripts of each pseudo-ST source subset.

help_message="Usage: $0 [--stage N] [--stop_stage N] [--seed N] [--check true] [--corpora \"librispeech mls ...\"] [--<size option> N]
(see the options at the top of this script)"
. utils/parse_options.sh
. ./db.sh

# corpus name -> "db.sh variable:top-level manifests (globs under the corpus dir, | = either)"
declare -A manifest=(
    [librispeech]="LIBRISPEECH:LibriSpeech/test-clean|test-clean"
    [mls]="MLS:train/transcripts.txt"
    [gigaspeech]="GIGASPEECH:GigaSpeech.json"
    [spgispeech]="SPGISPEECH:train.csv"
    [voxpopuli]="VOXPOPULI:transcribed_data/en/asr_train.tsv"
    [commonvoice]="COMMONVOICE:cv-corpus-*/en/train.tsv|en/train.tsv"
    [covost2]="COVOST2:covost_v2.en_*.tsv"
    [fleurs]="FLEURS:en_us/test.tsv"
    [europarl_st]="EUROPARL_ST:en/audios"
    [flores200]="FLORES200:flores200_dataset/devtest|devtest|floresp-*/devtest"
    [wmt23]="WMT23:wmt23-*|xml|txt"
    [towerblocks]="TOWERBLOCKS:*"
    [tower_cpt_text]="TOWER_CPT_TEXT:mono|parallel"
)

# corpus_dir C: the db.sh dir of corpus C.
corpus_dir() { local var=${manifest[$1]%%:*}; echo "${!var:-}"; }

# has_manifest DIR GLOBS: one of the |-separated GLOBS exists under DIR.
has_manifest() {
    local dir=$1 g globs
    IFS='|' read -ra globs <<< "$2"
    for g in "${globs[@]}"; do compgen -G "${dir}/${g}" > /dev/null && return 0; done
    return 1
}

# corpus_problems: one line per corpus of --corpora that is unknown, unset, absent or incomplete.
corpus_problems() {
    local c var want dir
    for c in ${corpora}; do
        if [ -z "${manifest[${c}]+x}" ]; then
            echo "unknown corpus '${c}' in --corpora (known: ${!manifest[*]})"; continue
        fi
        var=${manifest[${c}]%%:*}; want=${manifest[${c}]#*:}; dir=${!var:-}
        if [ -z "${dir}" ]; then
            echo "corpus ${c}: ${var} is not set in db.sh"
        elif [ ! -d "${dir}" ]; then
            echo "corpus ${c}: ${var}=${dir} (db.sh) does not exist"
        elif ! has_manifest "${dir}" "${want}"; then
            echo "corpus ${c}: ${var}=${dir} (db.sh) has no ${want//|/ or }"
        fi
    done
    # CoVoST-2 reads its clips from a Common Voice release; FLEURS filters by the FLORES devtest.
    if [[ " ${corpora} " == *" covost2 "* ]] && [ -z "$(covost2_cv_dir)" ]; then
        echo "corpus covost2: no Common Voice release with en/clips (set COVOST2_CV or COMMONVOICE in db.sh)"
    fi
    if [[ " ${corpora} " == *" fleurs "* ]] && [ -z "$(flores_devtest)" ]; then
        echo "corpus fleurs: no FLORES-200 devtest for the overlap filter (set FLORES200 in db.sh)"
    fi
}

# covost2_cv_dir: the Common Voice dir holding en/clips (COVOST2_CV, else the COMMONVOICE release).
covost2_cv_dir() {
    local d
    for d in "${COVOST2_CV:-}" "${COMMONVOICE:-}" "${COMMONVOICE:-/nonexistent}"/cv-corpus-*; do
        [ -n "${d}" ] && [ -d "${d}/en/clips" ] && { echo "${d}"; return 0; }
    done
    return 0
}

# flores_devtest: the FLORES-200 devtest dir under FLORES200.
flores_devtest() {
    local d
    for d in "${FLORES200:-/nonexistent}"/flores200_dataset/devtest "${FLORES200:-/nonexistent}"/devtest; do
        [ -d "${d}" ] && { echo "${d}"; return 0; }
    done
    return 0
}

if [ "${check}" = true ]; then
    # One line on stdout per problem (spire.sh --plan collects them); exit 1 when there is any.
    problems=$(corpus_problems)
    if [ -n "${problems}" ]; then
        echo "${problems}"
        exit 1
    fi
    log "every corpus of '${corpora}' is present"
    exit 0
fi

problems=$(corpus_problems)
if [ -n "${problems}" ]; then
    log "Error: corpora of db.sh are missing (nothing was prepared):"
    while IFS= read -r line; do echo "    ${line}" >&2; done <<< "${problems}"
    exit 1
fi

# lower WORD: WORD in lower case.
lower() { tr '[:upper:]' '[:lower:]' <<< "$1"; }
giga_train=gigaspeech_$(lower "${gigaspeech_subsets%% *}")

# done_dirs C: the data dirs whose corpus.json says corpus C is prepared.
done_dirs() {
    local l
    case $1 in
        librispeech) for p in ${librispeech_parts}; do echo -n "librispeech_${p//-/_} "; done ;;
        mls) echo "mls_en_train mls_en_train_cpt" ;;
        gigaspeech) for s in ${gigaspeech_subsets}; do echo -n "gigaspeech_$(lower "${s}") "; done ;;
        spgispeech) echo "spgispeech_train spgispeech_val" ;;
        voxpopuli) echo "voxpopuli_en_train voxpopuli_en_test" ;;
        commonvoice) echo "commonvoice_en_train commonvoice_en_train_it" ;;
        covost2) for l in ${covost2_langs}; do echo -n "covost2_en_${l}_train covost2_en_${l}_test "; done ;;
        fleurs) echo -n "fleurs_en_train fleurs_en_test "; for l in ${fleurs_langs}; do echo -n "fleurs_en_${l}_test "; done ;;
        europarl_st) for l in ${europarl_st_langs}; do echo -n "europarl_st_en_${l}_train "; done ;;
        flores200) echo "flores200_devtest" ;;
        wmt23) echo "wmt23" ;;   # dirs depend on --pairs: marked by data/.done_wmt23
        towerblocks) echo "towerblocks" ;;
        tower_cpt_text) echo "tower_cpt_mono tower_cpt_mt" ;;
    esac
}

# prepared C: every data dir of corpus C has its corpus.json.
prepared() {
    local d
    if [ "$1" = wmt23 ]; then [ -f "${data_root}/.done_wmt23" ]; return; fi
    for d in $(done_dirs "$1"); do [ -f "${data_root}/${d}/corpus.json" ] || return 1; done
}

# corpus_args C: prepare_corpus options of corpus C.
corpus_args() {
    case $1 in
        librispeech) echo "--parts ${librispeech_parts}" ;;
        mls) echo "--max_per_speaker ${mls_max_per_speaker}" ;;
        gigaspeech) echo "--subsets ${gigaspeech_subsets}" ;;
        commonvoice) echo "--min_seconds ${cv_min_seconds} --max_speakers_per_text ${cv_max_speakers_per_text}" ;;
        covost2) echo "--cv_dir $(covost2_cv_dir) --tgt_langs ${covost2_langs}" ;;
        fleurs) echo "--flores_devtest $(flores_devtest) --tgt_langs ${fleurs_langs}" ;;
        europarl_st) echo "--tgt_langs ${europarl_st_langs}" ;;
        flores200) echo "--splits devtest${flores200_langs:+ --langs ${flores200_langs}}" ;;
        wmt23) echo "${wmt23_pairs:+--pairs ${wmt23_pairs}}" ;;
        tower_cpt_text) echo "--name tower_cpt" ;;
    esac
}

mkdir -p "${data_root}"
if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
    for c in ${corpora}; do
        if prepared "${c}"; then
            log "Stage 1: ${c}: already prepared ($(done_dirs "${c}")), not redone"
            continue
        fi
        log "Stage 1: preparing ${c} from $(corpus_dir "${c}")"
        # shellcheck disable=SC2046
        ${python} -m espnet_spire.bin.prepare_corpus "${c}" --corpus_dir "$(corpus_dir "${c}")" \
            --data_root "${data_root}" --seed "${seed}" $(corpus_args "${c}")
        [ "${c}" = wmt23 ] && touch "${data_root}/.done_wmt23"
    done
fi

# st_pairs CORPUS SPLIT: the pair dirs of an ST corpus's split.
st_pairs() {
    local l langs
    case $1 in
        covost2) langs=${covost2_langs} ;;
        fleurs) langs=${fleurs_langs} ;;
        europarl_st) langs=${europarl_st_langs} ;;
    esac
    for l in ${langs}; do echo -n "${data_root}/$1_en_${l}_$2 "; done
}

if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ]; then
    # CoVoST-2 and FLEURS pairs read the same clips: joined into one dir (the utterances of every
    # pair). Europarl-ST pairs hold different segments: each pair copied with ids tagged -<xx>.
    for c_split in covost2:train covost2:dev covost2:test fleurs:train fleurs:test; do
        c=${c_split%:*}; split=${c_split#*:}
        [[ " ${corpora} " == *" ${c} "* ]] || continue
        out=${data_root}/${c}_en_${split}_st
        if [ -f "${out}/combined_from.json" ]; then
            log "Stage 2: ${out} exists, not redone"; continue
        fi
        log "Stage 2: the ${c} pairs of ${split} joined -> ${out}"
        # shellcheck disable=SC2046
        ${python} -m espnet_spire.bin.combine_data_dirs --join_pairs --output_dir "${out}" $(st_pairs "${c}" "${split}")
    done
    if [[ " ${corpora} " == *" europarl_st "* ]]; then
        for l in ${europarl_st_langs}; do
            out=${data_root}/europarl_st_en_${l}_train_st
            if [ -f "${out}/combined_from.json" ]; then
                log "Stage 2: ${out} exists, not redone"; continue
            fi
            log "Stage 2: europarl_st_en_${l}_train with ids tagged -${l} -> ${out}"
            ${python} -m espnet_spire.bin.combine_data_dirs --tag_pair "${l}" --output_dir "${out}" \
                "${data_root}/europarl_st_en_${l}_train"
        done
    fi
fi

if [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ]; then
    out=${data_root}/kmeans_subset
    if [ -f "${out}/corpus.json" ]; then
        log "Stage 3: ${out} exists, not redone"
    else
        log "Stage 3: the k-means subset -> ${out}"
        ${python} -m espnet_spire.bin.subset_data_dir kmeans --out "${out}" --seed "${seed}" \
            --covost "${data_root}/covost2_en_${covost2_langs%% *}_train" --voxpopuli "${data_root}/voxpopuli_en_train" \
            --mls "${data_root}/mls_en_train" \
            --covost_files "${kmeans_covost_files}" --covost_max_per_speaker "${kmeans_covost_max_per_speaker}" \
            --voxpopuli_files "${kmeans_voxpopuli_files}" --voxpopuli_max_per_speaker "${kmeans_voxpopuli_max_per_speaker}" \
            --mls_files "${kmeans_mls_files}"
    fi
fi

if [ "${stage}" -le 4 ] && [ "${stop_stage}" -ge 4 ]; then
    for pair in cv:commonvoice_en_train spgi:spgispeech_train giga:${giga_train}; do
        out=${data_root}/pseudo_st_src_${pair%%:*}
        if [ -f "${out}/corpus.json" ]; then
            log "Stage 4: ${out} exists, not redone"; continue
        fi
        log "Stage 4: ${pseudo_st_source_size} transcripts of ${pair#*:} -> ${out}"
        ${python} -m espnet_spire.bin.subset_data_dir pseudo_st_source --out "${out}" --seed "${seed}" \
            --src "${data_root}/${pair#*:}" --size "${pseudo_st_source_size}"
    done
fi

if [ "${stage}" -le 5 ] && [ "${stop_stage}" -ge 5 ]; then
    log "Stage 5: wrote under ${data_root}/:"
    for d in "${data_root}"/*/; do
        for f in "${d}"text "${d}"text.tc.* "${d}"*.jsonl; do
            [ -f "${f}" ] || continue
            log "    $(basename "${d}"): $(wc -l < "${f}") lines in $(basename "${f}")"
            break
        done
    done
fi
