#!/usr/bin/env bash
# spire.sh: the SPIRE pipeline as numbered stages, the template of every spire1 recipe (like
# ESPnet's egs2/TEMPLATE/asr1/asr.sh). Recipes link to it (egs2/<corpus>/spire1/spire.sh) and
# call it from a thin run.sh that names their data sets and configs. The defaults below are the
# paper's settings; a recipe's run.sh or --config FILE overrides what differs for it. Every option
# can be given on the command line as --name value (or --name-with-dashes value).
set -euo pipefail

current_stage=0
log() {
    echo "$(date '+%Y-%m-%dT%H:%M:%S') (spire.sh:stage ${current_stage}) $*" >&2
}
SECONDS=0

# ---------------------------------------------------------------- helpers
# stage_selected N: true when stage N is inside [stage, stop_stage] and not skipped (no output).
stage_selected() {
    [ "$1" -ge "${stage}" ] && [ "$1" -le "${stop_stage}" ] && [[ "${skip_list}" != *" $1 "* ]]
}

# any_stage_selected N...: true when one of the stages N... is selected (dry runs included).
any_stage_selected() {
    local n
    for n in "$@"; do stage_selected "${n}" && return 0; done
    return 1
}

# run_stage N: stage_selected, with the log line of a skipped stage, and --dry_run.
run_stage() {
    local n=$1
    [ "${n}" -ge "${stage}" ] && [ "${n}" -le "${stop_stage}" ] || return 1
    current_stage=${n}
    if ! stage_selected "${n}"; then
        log "Stage ${n}: skipped"
        return 1
    fi
    if [ "${dry_run}" = true ]; then
        log "Stage ${n}: would run"
        return 1
    fi
    return 0
}

# split_keys SRC LOGDIR NJ: write LOGDIR/keys.{1..n}.scp (n = min(NJ, lines)); prints n.
split_keys() {
    local src=$1 logdir=$2 n=$3 num
    num=$(wc -l < "${src}")
    [ "${num}" -lt "${n}" ] && n=${num}
    local files=()
    for i in $(seq "${n}"); do files+=("${logdir}/keys.${i}.scp"); done
    utils/split_scp.sh "${src}" "${files[@]}"
    echo "${n}"
}

# mono_args SET: a --mono option for each data/SET/text.tc.<lang> (nothing when SET is empty).
mono_args() {
    [ -z "$1" ] && return 0
    local f
    for f in data/"$1"/text.tc.*; do echo -n " --mono ${f}"; done
}

# role_dir ROLE SETS...: the data dir a stage reads for a data role: data/<set> for one set (read
# in place), ${dumpdir}/roles/<role> for several (combined by the stage, see combine_role).
role_dir() {
    local role=$1; shift
    case $# in 0) ;; 1) echo "data/$1" ;; *) echo "${dumpdir}/roles/${role}" ;; esac
}

# role_units ROLE SETS...: the units file of a data role's utterances (as role_dir).
role_units() {
    local role=$1; shift
    case $# in 0) ;; 1) echo "${dumpdir}/units/$1/units" ;; *) echo "${dumpdir}/roles/${role}/units" ;; esac
}

# uniq_words WORD...: the words, each once, in order of first mention (space-terminated).
uniq_words() {
    local w seen=" "
    for w in "$@"; do
        [[ "${seen}" == *" ${w} "* ]] || { seen+="${w} "; echo -n "${w} "; }
    done
}

# check_data_roles: every dir named by a role exists under data/ (speech dirs with a wav.scp,
# text dirs with a text.tc.<lang>); otherwise one list of what is missing, and exit 2.
check_data_roles() {
    local role d missing=()
    for role in kmeans_sets cpt_speech_sets it_asr_sets st_sets pseudo_st_sets valid_set test_sets; do
        for d in ${!role}; do
            [ -f "data/${d}/wav.scp" ] || missing+=("--${role} ${d}: data/${d}/wav.scp not found")
        done
    done
    for role in cpt_mono_sets cpt_mt_sets it_mt_sets text_test_sets; do
        for d in ${!role}; do
            compgen -G "data/${d}/text.tc.*" > /dev/null || missing+=("--${role} ${d}: no data/${d}/text.tc.<lang>")
        done
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        log "Error: data dirs named by the data roles are missing (nothing was started):"
        printf '    %s\n' "${missing[@]}" >&2
        exit 2
    fi
}

# combine_role OUT UNITS_ROOT SETS...: combine data/<set> of several SETS into OUT (their units
# from UNITS_ROOT/<set>/units when UNITS_ROOT is given); nothing for one set (read in place).
combine_role() {
    local out=$1 units_root=$2; shift 2
    [ $# -gt 1 ] || return 0
    local srcs=() d
    for d in "$@"; do srcs+=("data/${d}"); done
    ${python} -m espnet_spire.bin.combine_data_dirs --output_dir "${out}" \
        ${units_root:+--units_root "${units_root}"} "${srcs[@]}"
}

# servable_tasks DIR TASKS...: the tasks whose inputs and references DIR has (speech tasks need
# a wav.scp; MT both text.tc files); each other task is logged as skipped.
servable_tasks() {
    local dir=$1 t ok a; shift
    for t in "$@"; do
        case "${t}" in
            asr) ok=$([ -f "${dir}/wav.scp" ] && [ -f "${dir}/text" ] && echo y) ;;
            st_*|multiturn_st_*) ok=$([ -f "${dir}/wav.scp" ] && [ -f "${dir}/text.tc.${t##*_}" ] && echo y) ;;
            mt_*_*) a=${t#mt_}; ok=$([ -f "${dir}/text.tc.${a%_*}" ] && [ -f "${dir}/text.tc.${t##*_}" ] && echo y) ;;
            *) ok=y ;;
        esac
        if [ -n "${ok}" ]; then echo -n "${t} "; else log "Stage 12: ${dir} cannot serve task ${t} (no input or reference): skipped"; fi
    done
}

# score_task_ref TEST_SET TASK: the reference of a task (empty for an unknown task name).
score_task_ref() {
    case "$2" in
        asr) echo "data/$1/text" ;;
        st_*|multiturn_st_*|mt_*_*) echo "data/$1/text.tc.${2##*_}" ;;
        *) echo "" ;;
    esac
}

# ---------------------------------------------------------------- general options
stage=1              # First stage to run.
stop_stage=15        # Last stage to run.
skip_stages=""       # Stages to skip, e.g. "3 4" (space or comma separated).
skip_upload=true     # Skip stage 15 (upload to the Hugging Face Hub).
nj=32                # Number of parallel jobs for data processing stages.
inference_nj=8       # Number of parallel jobs for decoding.
ngpu=0               # Number of GPUs for training and decoding (0: CPU).
python=python3       # Python command (CI passes "coverage run --append").
dumpdir=dump         # Directory for dumped audio and units.
expdir=exp           # Directory for experiments.
seed=0               # Global seed of data-making stages.
dry_run=false        # Only list the stages that would run.
plan=false           # Check every input and print sizes, disk, GPU memory and GPU-hours per stage, then exit.
plan_tokens_per_second=8900  # Plan: training tokens/s per GPU for a 7B model (issue #16: 7B Llama, one H200, bf16).
plan_args=""         # Extra options of espnet_spire.bin.plan, e.g. "--translate_tokens_per_second 2000".

# ---------------------------------------------------------------- data
# Data roles: each is a space-separated list of dirs under data/ (README, "Data roles"). A role
# fed by several dirs is combined into ${dumpdir}/roles/<role>/ where a stage reads one dir.
train_set=""                # Shorthand: the default of every speech training role below.
kmeans_sets=""              # Speech whose features train k-means (stage 3). Default: train_set.
cpt_speech_sets=""          # ASR pairs (units + transcripts) of CPT (stage 7). Default: train_set.
cpt_mono_sets=""            # Monolingual text of CPT (text.tc.<lang>; stage 7). Default: mono_set.
cpt_mt_sets=""              # Parallel text of CPT (aligned text.tc.<lang>; stage 7). Default: mt_train_set.
it_asr_sets=""              # ASR of IT (stage 10). Default: train_set.
st_sets=""                  # Gold ST of IT (stage 10); a dir's text.tc.<lang> files are its pairs. Default: train_set.
pseudo_st_sets=""           # Transcripts stage 9 translates into pseudo-labelled ST for IT. Default: train_set.
it_mt_sets=""               # MT text of IT (aligned text.tc.<lang>; stage 10). Default: mt_train_set.
valid_set=""                # Validation data dir under data/ (required).
test_sets=""                # Speech test dirs under data/ (required; stages 12-13).
text_test_sets=""           # Text-only test dirs (aligned text.tc.<lang>): MT tasks only (stages 12-13).
local_data_opts=""          # Options passed to local/data.sh.
src_lang=en                 # Language of the speech.
tgt_langs="de fr es it pt nl ru zh ko"   # Translation targets (ESPnet-ST codes).

# ---------------------------------------------------------------- audio
audio_format=wav            # Format of dumped 16 kHz mono audio (wav or flac).
resampler=soxr_hq           # For non-16 kHz audio: soxr_hq (as SpireLM's labeller, librosa) or sinc (torchaudio).
max_failed_ratio=0.05       # A stage fails when more than this share of utterances is unusable.

# ---------------------------------------------------------------- units (stages 3-5)
feature_type=hf_ssl         # hf_ssl (a local HuBERT/wav2vec2/WavLM dir), mfcc (100 Hz) or mfcc50 (50 Hz), no weights.
ssl_model=""                # Local HF model dir, e.g. /models/hubert-large-ll60k.
ssl_layer=22                # Transformer layer whose output is clustered (SPIRE: 22).
ssl_dtype=fp32              # fp32 (SPIRE's paper setting) or bf16.
feats_batch_size=""         # Utterances per forward pass (sorted by length, masked);
                            # default 1 on CPU (padding is slower there), 4 on GPU.
feats_chunk_seconds=100     # Longer audio is encoded in chunks of this length.
nclusters=5000              # K of k-means.
kmeans_tag=""               # exp/kmeans/<tag>; default <feature_type>_k<nclusters> (hf_ssl:
                            # <ssl model dir name>_l<ssl_layer>_k<nclusters>).
kmeans_model=""             # Existing k-means (joblib, centers.npy or dir): skips stages 3-4.
kmeans_portion=1.0          # Share of training utterances sampled for k-means.
kmeans_max_frames=2000000   # Cap on frames used by k-means (memory is bounded by it).
kmeans_batch_size=20000     # Mini-batch size of MiniBatchKMeans.
kmeans_max_iter=20          # Passes over the sampled frames.
kmeans_backend=sklearn      # sklearn (MiniBatchKMeans) or faiss.
kmeans_trust_pickle=false   # Load a --kmeans_model that exists only as a pickle (joblib, e.g. SpireKMeans):
                            # unpickling runs code from the file. Safer: espnet_spire.bin.convert_kmeans once.
dsu_format=pua              # pua (SPIRE), extra_id or indices.
dedup=true                  # Merge consecutive repeated units.

# ---------------------------------------------------------------- LLM (stages 6-14)
base_model=""               # Local HF dir of the base LLM (TowerBase-7B).
init_strategy=mean          # New embedding rows: mean (SPIRE: N(mean, 1e-5 cov)), hf_default, normal.
lm_seed=42                  # Seed of the embedding init (SPIRE: 42).
mt_train_set=""             # Shorthand: default of --cpt_mt_sets and --it_mt_sets (aligned text.tc.<lang>).
mono_set=""                 # Shorthand: default of --cpt_mono_sets (text.tc.<lang>).
cpt_ratio=5:1               # Speech:text token ratio of the CPT mixture (SPIRE: 5B:1B).
cpt_max_len=4096            # Packed CPT sequence length.
cpt_data_opts=""            # Extra options of the CPT data builder (make_cpt_data), e.g. "--loss_on_units false".
cpt_config=""               # CPT training config (SpireBase); required from stage 8 on.
cpt_tag=""                  # SpireBase is trained in exp/<cpt_tag>/spirebase; default: the config's name.
cpt_args=""                 # Extra options of the CPT training.
it_config=""                # IT training config; required from stage 8 on.
it_tag=""                   # IT variant V is trained in exp/<it_tag>/V; default: the config's name.
it_args=""                  # Extra options of the IT training.
it_max_len=4096             # Longest IT conversation (longer ones are skipped and listed).
resume_with_new_config=false  # Stages 8/11: resume an exp dir whose training config changed (keep weights
                            # and epochs, restart optimizer and scheduler); otherwise such a resume stops.
lm_nthreads=0               # CPU threads of single-process LLM jobs (training, pseudo-ST); 0: all cores.
lm_launcher=deepspeed       # LLM training launcher: espnet (CPU / DDP), torchrun or deepspeed
                            # (the last two for DeepSpeed configs, one process per GPU).
variants="spirebase spirefull"  # Models to train and score: spirebase (CPT only) and IT mixtures of
                            # conf/it_mixtures/: spirefull towerfull noblocks nopseudo.
towerblocks=""              # TowerBlocks-style jsonl for the IT text data (optional).
it_mixture_vars=""          # Counts of the IT mixtures, "NAME=VALUE ..." (their defaults are the paper's, e.g. n_pseudo_direct=60000/lang).
prompt_style="head"         # IT/decoding prompts: head ("\nEnglish:") or paper ("\n English:").
decode_tasks=""             # Default: asr, st_<l> and mt_en_<l>, mt_<l>_en for every tgt_lang.
decode_tag=greedy           # exp/<model>/decode_<tag>/<test_set>/<task>/.
decode_batch_size=16
decode_dtype=bfloat16       # float32 or bfloat16.
decode_max_new_tokens=256   # Greedy decoding stops at a newline or after this many tokens (paper: 256).
copy_baseline=false         # Also score "copy the transcript" as the ST output (a floor for ST BLEU).
decode_base=true            # Also decode the base LLM (MT, CPT-format prompts) for RESULTS.md.

# ---------------------------------------------------------------- pseudo-labelled ST (stage 9)
pseudo_st_translator=""      # Local causal LM dir translating the transcripts (SPIRE: TowerInstruct-13B);
                             # "base": the base LLM, prompted in its CPT format.
pseudo_st_qe_model=""        # Local CometKiwi dir (Unbabel/wmt22-cometkiwi-da); needed unless the filter is off.
pseudo_st_qe_filter=true     # false: keep every translation unfiltered (the report says so).
pseudo_st_threshold=0.85     # Keep pairs with CometKiwi >= this (SPIRE: 0.85).
pseudo_st_n_direct=60000     # Pairs per language for direct-ST prompts.
pseudo_st_n_multiturn=60000  # Other pairs per language for multi-turn ST prompts.
pseudo_st_max_utts=0         # Translate a random subset of this many transcripts (0: all).
pseudo_st_args=""            # Extra options of espnet_spire.bin.make_pseudo_st.

# ---------------------------------------------------------------- scoring (stage 13)
score_normalizer=whisper     # WER/CER normaliser of hyps and refs: whisper (SPIRE), basic or none.
spbleu=true                  # spBLEU (flores200 tokenizer); false skips it explicitly.
flores200_spm=""             # flores200 SPM model (default: $SACREBLEU/models/flores200sacrebleuspm).
comet_model=""               # Local Unbabel/wmt22-comet-da dir (empty: no COMET).
cometkiwi_model=""           # Local Unbabel/wmt22-cometkiwi-da dir for QE of the outputs (empty: none).
score_args=""                # Extra options of espnet_spire.bin.score_decode_dir.
external_systems=""          # "NAME=DIR ...": other systems' outputs, DIR/<test_set>/<task>/hyp.txt.
results_notes=""             # Notes for RESULTS.md about the recipe's inputs, one per line.
hf_repo=""                   # Stage 15: Hugging Face repo to upload the export to (<user>/<name>).
hf_upload_dry_run=false      # Stage 15: list every file and its size, upload nothing.
hf_upload_args=""            # Stage 15: extra options of espnet_spire.bin.upload_model (--private true, --local_dir DIR).
hf_base_model=""             # Stage 14: Hub id of the base model for the model card (e.g. Unbabel/TowerBase-7B-v0.1).
hf_license=cc-by-nc-4.0      # Stage 14: license id of the model card (the released SPIRE models' license).

help_message=$(cat <<EOF
Usage: $0 [options]
Stages (run with --stage N --stop_stage M, skip some with --skip_stages "N M"):
   1  data preparation (local/data.sh -> data/<set>/)
   2  audio formatting (16 kHz mono -> ${dumpdir}/raw/<set>/)
   3  SSL feature dump for k-means learning
   4  k-means learning (${expdir}/kmeans/<tag>/); skipped with --kmeans_model
   5  unit labelling (${dumpdir}/units/<set>/units)
   6  tokenizer and model extension (units as new tokens)
   7  CPT data (ASR + MT + monolingual text, packed)
   8  CPT training (SpireBase)
   9  pseudo-labelled speech translation (MT + CometKiwi filter)
  10  IT data (ChatML: ASR, ST, multi-turn ST, MT)
  11  IT training (SpireFull and variants)
  12  decoding (greedy, batched)
  13  scoring (WER/CER, BLEU/chrF/spBLEU, COMET) and RESULTS.md
  14  export (Hugging Face model dir) and pack
  15  upload (skipped unless --skip_upload false)
Data roles (each a list of dirs under data/; several dirs of one role are combined):
  --kmeans_sets      speech for k-means (stage 3)                      default: --train_set
  --cpt_speech_sets  ASR units + transcripts of CPT (stage 7)          default: --train_set
  --cpt_mono_sets    monolingual text of CPT (stage 7)                 default: --mono_set
  --cpt_mt_sets      parallel text of CPT (stage 7)                    default: --mt_train_set
  --it_asr_sets      ASR of IT (stage 10)                              default: --train_set
  --st_sets          gold ST of IT, pairs = its text.tc.<lang> (10)    default: --train_set
  --pseudo_st_sets   transcripts translated by stage 9 for IT (9, 10)  default: --train_set
  --it_mt_sets       MT text of IT (stage 10; also --towerblocks)      default: --mt_train_set
  --valid_set        validation (stages 2-5, 7, 10)
  --test_sets        speech test sets (stages 2-5, 12, 13)
  --text_test_sets   text-only test sets: MT tasks of their languages (stages 12, 13)
  Stages 2-5 process every speech dir of every role once.
Options:
  --stage, --stop_stage, --skip_stages, --skip_upload, --nj, --inference_nj, --ngpu,
  --python, --dumpdir, --expdir, --seed, --dry_run, --plan, --plan_tokens_per_second, --plan_args,
  --train_set, --kmeans_sets, --cpt_speech_sets,
  --cpt_mono_sets, --cpt_mt_sets, --it_asr_sets, --st_sets, --pseudo_st_sets, --it_mt_sets,
  --valid_set, --test_sets, --text_test_sets,
  --local_data_opts, --src_lang, --tgt_langs, --audio_format, --resampler, --max_failed_ratio,
  --feature_type, --ssl_model, --ssl_layer, --ssl_dtype, --feats_batch_size, --feats_chunk_seconds,
  --nclusters, --kmeans_tag, --kmeans_model, --kmeans_portion, --kmeans_max_frames,
  --kmeans_batch_size, --kmeans_max_iter, --kmeans_backend, --kmeans_trust_pickle, --dsu_format, --dedup,
  --base_model, --init_strategy, --lm_seed,
  --mt_train_set, --mono_set, --cpt_ratio, --cpt_max_len, --cpt_data_opts, --cpt_config, --cpt_tag, --cpt_args,
  --it_config, --it_tag, --it_args, --it_max_len, --resume_with_new_config, --it_mixture_vars, --lm_nthreads, --lm_launcher, --variants, --towerblocks, --prompt_style, --decode_tasks, --decode_tag,
  --decode_batch_size, --decode_dtype, --decode_max_new_tokens, --decode_base, --copy_baseline, --pseudo_st_translator, --pseudo_st_qe_model,
  --pseudo_st_qe_filter, --pseudo_st_threshold, --pseudo_st_n_direct, --pseudo_st_n_multiturn,
  --pseudo_st_max_utts, --pseudo_st_args, --score_normalizer, --spbleu, --flores200_spm,
  --comet_model, --cometkiwi_model, --score_args, --external_systems, --results_notes, --hf_repo,
  --hf_upload_dry_run, --hf_upload_args, --hf_base_model, --hf_license
EOF
)

log "$0 $*"
run_args=$(printf '%q ' "$0" "$@")
. utils/parse_options.sh
if [ $# -ne 0 ]; then
    log "Error: unexpected positional arguments: $*"
    echo "${help_message}" >&2
    exit 2
fi

# ---------------------------------------------------------------- option checks
# Bad values stop the run here, before any work, naming the option (issue #15).
option_errors=()
# is_int VALUE: true for a (non-negative) decimal integer.
is_int() { [[ "$1" =~ ^[0-9]+$ ]]; }
is_int "${stage}" && [ "${stage}" -ge 1 ] && [ "${stage}" -le 15 ] \
    || option_errors+=("--stage '${stage}': must be a stage number, 1-15")
is_int "${stop_stage}" && [ "${stop_stage}" -ge 1 ] && [ "${stop_stage}" -le 15 ] \
    || option_errors+=("--stop_stage '${stop_stage}': must be a stage number, 1-15")
if [ "${#option_errors[@]}" -eq 0 ] && [ "${stop_stage}" -lt "${stage}" ]; then
    option_errors+=("--stop_stage ${stop_stage} is below --stage ${stage}: no stage would run")
fi
for _n in ${skip_stages//,/ }; do
    is_int "${_n}" && [ "${_n}" -ge 1 ] && [ "${_n}" -le 15 ] \
        || option_errors+=("--skip_stages '${skip_stages}': '${_n}' is not a stage number, 1-15")
done
for _opt in nj inference_nj; do
    is_int "${!_opt}" && [ "${!_opt}" -ge 1 ] || option_errors+=("--${_opt} '${!_opt}': must be a whole number >= 1")
done
is_int "${ngpu}" || option_errors+=("--ngpu '${ngpu}': must be a whole number >= 0")
for _opt in dumpdir expdir; do
    [[ "${!_opt}" =~ [[:space:]] ]] && option_errors+=("--${_opt} '${!_opt}': paths with spaces are not supported (Kaldi-style lists and job commands split on them)")
    [ -n "${!_opt}" ] || option_errors+=("--${_opt} is empty")
done
_known_variants="spirebase $(for _f in conf/it_mixtures/*.yaml; do [ -f "${_f}" ] && basename "${_f}" .yaml; done | tr '\n' ' ')"
for _v in ${variants}; do
    [[ " ${_known_variants} " == *" ${_v} "* ]] \
        || option_errors+=("--variants: unknown variant '${_v}' (known: ${_known_variants% }; an IT variant is conf/it_mixtures/<name>.yaml)")
done
if [ "${#option_errors[@]}" -gt 0 ]; then
    log "Error: invalid options (nothing was started):"
    printf '    %s\n' "${option_errors[@]}" >&2
    exit 2
fi

. ./path.sh
. ./cmd.sh

# --ngpu N needs N visible GPUs; checked before any stage (not for --dry_run / --plan, which only look).
if [ "${ngpu}" -gt 0 ] && [ "${dry_run}" = false ] && [ "${plan}" = false ]; then
    _ngpu_seen=$(${python} -c "import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)" 2>/dev/null || echo 0)
    if [ "${_ngpu_seen}" -lt "${ngpu}" ]; then
        log "Error: --ngpu ${ngpu} but torch sees ${_ngpu_seen} GPU(s) (torch.cuda.is_available() is false or too few devices): use --ngpu 0 for CPU, or run where the GPUs are (nothing was started)"
        exit 2
    fi
fi

# ---------------------------------------------------------------- stage gating
skip_list=" ${skip_stages//,/ } "
[ "${skip_upload}" = true ] && skip_list+="15 "

# ---------------------------------------------------------------- data roles
# The shorthands fill the roles not given (a recipe with one training set names only that).
: "${kmeans_sets:=${train_set}}" "${cpt_speech_sets:=${train_set}}" "${it_asr_sets:=${train_set}}"
: "${st_sets:=${train_set}}" "${pseudo_st_sets:=${train_set}}"
: "${cpt_mt_sets:=${mt_train_set}}" "${it_mt_sets:=${mt_train_set}}" "${cpt_mono_sets:=${mono_set}}"

# ---------------------------------------------------------------- required options
if [ -z "${cpt_speech_sets}" ] || [ -z "${it_asr_sets}" ] || { [ -z "${kmeans_sets}" ] && [ -z "${kmeans_model}" ]; } \
        || [ -z "${valid_set}" ] || [ -z "${test_sets}" ]; then
    log "Error: --train_set, --valid_set and --test_sets are required (a recipe's run.sh names its data sets;" \
        "--kmeans_sets, --cpt_speech_sets and --it_asr_sets may replace --train_set)"
    exit 2
fi
if any_stage_selected 8 11 12 13 14 15 && { [ -z "${cpt_config}" ] || [ -z "${it_config}" ]; }; then
    log "Error: --cpt_config and --it_config are required from stage 8 on (the training configs; they also name exp/<tag>/)"
    exit 2
fi
if [ "${feature_type}" = hf_ssl ] && [ -z "${ssl_model}" ] && [ "${dry_run}" = false ] && [ "${plan}" = false ] && any_stage_selected 3 5; then
    log "Error: --feature_type hf_ssl needs --ssl_model <local HF model dir> (or use --feature_type mfcc)"
    exit 2
fi

# ---------------------------------------------------------------- tags and dirs of every stage
# Units (stages 3-5): k-means and its features are named from the feature settings and K.
if [ -z "${kmeans_tag}" ]; then
    if [ "${feature_type}" = hf_ssl ]; then
        kmeans_tag=$(basename "${ssl_model:-ssl}")_l${ssl_layer}_k${nclusters}
    else
        kmeans_tag=${feature_type}_k${nclusters}
    fi
fi
km_dir=${expdir}/kmeans/${kmeans_tag}
featdir=${expdir}/kmeans_feats/${kmeans_tag}
km=${kmeans_model:-${km_dir}}        # the k-means that labels the units (stage 5) and is exported
# LLM (stages 6-14): the extended base, then one exp dir per trained model, named from its
# config (like ESPnet's asr_tag) so that another config never resumes this one's checkpoints.
tok_dir=${expdir}/tokenizer          # base/ and instruct/ tokenizers with the unit tokens
lm_init=${expdir}/lm_init            # the base LLM with extended embeddings
[ -z "${cpt_tag}" ] && cpt_tag=$(basename "${cpt_config}" .yaml)
[ -z "${it_tag}" ] && it_tag=$(basename "${it_config}" .yaml)
# Data roles: the dir and units each stage reads for a role (role_dir, role_units).
# shellcheck disable=SC2086
{
    kmeans_dir=${dumpdir}/raw/${kmeans_sets}
    [ "$(wc -w <<< "${kmeans_sets}")" -gt 1 ] && kmeans_dir=${dumpdir}/roles/kmeans
    it_asr_dir=$(role_dir it_asr ${it_asr_sets});        it_asr_units=$(role_units it_asr ${it_asr_sets})
    st_dir=$(role_dir st ${st_sets});                    st_units=$(role_units st ${st_sets})
    pseudo_src_dir=$(role_dir pseudo_st ${pseudo_st_sets}); pseudo_src_units=$(role_units pseudo_st ${pseudo_st_sets})
    it_mt_dir=$(role_dir it_mt ${it_mt_sets})
}
# Stage 9's output: named after the one source set (or "combined" for several).
pseudo_dir=${dumpdir}/pseudo_st/combined
[ "$(wc -w <<< "${pseudo_st_sets}")" -eq 1 ] && pseudo_dir=${dumpdir}/pseudo_st/${pseudo_st_sets}
# Every speech dir of every role, once, in order of first mention: stage 2 formats them all,
# stage 5 labels all but those only k-means reads.
# shellcheck disable=SC2086
{
    unit_sets=$(uniq_words ${cpt_speech_sets} ${it_asr_sets} ${st_sets} ${pseudo_st_sets} ${valid_set} ${test_sets})
    speech_sets=$(uniq_words ${kmeans_sets} ${unit_sets})
    text_sets=$(uniq_words ${cpt_mono_sets} ${cpt_mt_sets} ${it_mt_sets} ${text_test_sets})
}
log "Data roles: speech sets (stages 2-5): ${speech_sets}; k-means: ${kmeans_sets:-none (--kmeans_model)};" \
    "CPT speech: ${cpt_speech_sets}; CPT text: ${cpt_mono_sets:-none} (mono), ${cpt_mt_sets:-none} (parallel);" \
    "IT ASR: ${it_asr_sets}; gold ST: ${st_sets:-none}; pseudo-ST: ${pseudo_st_sets:-none}; IT MT: ${it_mt_sets:-none};" \
    "tests: ${test_sets} (speech), ${text_test_sets:-none} (text); text dirs: ${text_sets:-none}"
it_variants=$(for v in ${variants}; do [ "${v}" = spirebase ] || echo -n "${v} "; done)
declare -A model_exp=([spirebase]="${expdir}/${cpt_tag}/spirebase")
for v in ${it_variants}; do model_exp[${v}]=${expdir}/${it_tag}/${v}; done
[ -z "${decode_tasks}" ] && decode_tasks="asr $(for l in ${tgt_langs}; do echo -n "st_${l} mt_${src_lang}_${l} mt_${l}_${src_lang} "; done)"
# decode_models: "exp_dir:model_dir:tasks" of every model to decode (stage 12 writes
# <exp_dir>/decode_<decode_tag>/<test_set>/<task>/). Our models are self-contained: tokenizer and
# prompt style come from the model dir's spire.json; the base LLM is prompted in CPT format.
decode_models=""
for v in ${variants}; do
    if [ "${v}" = spirebase ]; then
        _tasks=$(for t in ${decode_tasks}; do case "${t}" in multiturn_*) ;; *) echo -n "${t},";; esac; done)
        decode_models+=" ${model_exp[spirebase]}:${model_exp[spirebase]}/hf_model:${_tasks}"
    else
        decode_models+=" ${model_exp[${v}]}:${model_exp[${v}]}/hf_model:${decode_tasks// /,}"
    fi
done
if [ "${decode_base}" = true ] && [ -n "${base_model}" ]; then
    _tasks=$(for t in ${decode_tasks}; do case "${t}" in mt_*) echo -n "${t},";; esac; done)
    [ -n "${_tasks}" ] && decode_models+=" ${expdir}/base:${base_model}:${_tasks}"
fi
copy_dir=${expdir}/copy_transcript/decode_copy    # the copy-the-transcript ST floor (stage 12)

# ---------------------------------------------------------------- plan (--plan true)
# Every input checked and every stage estimated before any work; nothing is written, and the
# run stops here (exit 1 with one list of problems when an input is missing or invalid).
if [ "${plan}" = true ]; then
    _stages=$(for n in $(seq 1 15); do if stage_selected "${n}"; then echo -n "${n} "; fi; done)
    log "Plan of stages ${_stages}"
    # shellcheck disable=SC2086
    ${python} -m espnet_spire.bin.plan --stages "${_stages}" --seed "${seed}" \
        --data_check_cmd "local/data.sh --check true --seed ${seed} ${local_data_opts}" \
        --dumpdir "${dumpdir}" --expdir "${expdir}" \
        --kmeans_sets "${kmeans_sets}" --cpt_speech_sets "${cpt_speech_sets}" --cpt_mono_sets "${cpt_mono_sets}" \
        --cpt_mt_sets "${cpt_mt_sets}" --it_asr_sets "${it_asr_sets}" --st_sets "${st_sets}" \
        --pseudo_st_sets "${pseudo_st_sets}" --it_mt_sets "${it_mt_sets}" --valid_set "${valid_set}" \
        --test_sets "${test_sets}" --text_test_sets "${text_test_sets}" --speech_sets "${speech_sets}" \
        --unit_sets "${unit_sets}" --text_sets "${text_sets}" --towerblocks "${towerblocks}" \
        --it_mixture_vars "${it_mixture_vars}" --src_lang "${src_lang}" \
        --tgt_langs "${tgt_langs}" --feature_type "${feature_type}" --ssl_model "${ssl_model}" \
        --ssl_layer "${ssl_layer}" --nclusters "${nclusters}" --kmeans_model "${kmeans_model}" \
        --trust_pickle "${kmeans_trust_pickle}" \
        --kmeans_dir "${km_dir}" --kmeans_portion "${kmeans_portion}" --kmeans_max_frames "${kmeans_max_frames}" \
        --dedup "${dedup}" --tokenizer_dir "${tok_dir}" --base_model "${base_model}" \
        --cpt_config "${cpt_config}" --it_config "${it_config}" --cpt_ratio "${cpt_ratio}" \
        --cpt_data_opts="${cpt_data_opts}" --variants "${variants}" \
        --pseudo_st_translator "${pseudo_st_translator}" --pseudo_st_max_utts "${pseudo_st_max_utts}" \
        --pseudo_st_n_direct "${pseudo_st_n_direct}" --pseudo_st_n_multiturn "${pseudo_st_n_multiturn}" --ngpu "${ngpu}" \
        --tokens_per_second "${plan_tokens_per_second}" ${plan_args}
    exit 0
fi

# ---------------------------------------------------------------- devices and job commands
[ -z "${feats_batch_size}" ] && { [ "${ngpu}" -gt 0 ] && feats_batch_size=4 || feats_batch_size=1; }
feature_opts="--feature_type ${feature_type} --layer ${ssl_layer} --dtype ${ssl_dtype}"
feature_opts+=" --batch_size ${feats_batch_size} --chunk_seconds ${feats_chunk_seconds}"
[ "${feature_type}" = hf_ssl ] && feature_opts+=" --ssl_model ${ssl_model}"
if [ "${ngpu}" -gt 0 ]; then
    units_cmd="${cuda_cmd} --gpu 1"; units_device=cuda
    lm_cmd="${cuda_cmd} --gpu ${ngpu}"
else
    units_cmd=${train_cmd}; units_device=cpu
    lm_cmd=${train_cmd}
fi
# path.sh pins OMP_NUM_THREADS=1 for the many parallel data jobs; a lone LLM job uses every core.
[ "${lm_nthreads}" -gt 0 ] || lm_nthreads=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)
lm_env="env OMP_NUM_THREADS=${lm_nthreads} MKL_NUM_THREADS=${lm_nthreads}"
train_lm="scripts/train_lm.sh --ngpu ${ngpu} --launcher ${lm_launcher} --nthreads ${lm_nthreads} --seed ${seed}"
train_lm+=" --resume_with_new_config ${resume_with_new_config}"

# The data roles' dirs are checked before any work (after local/data.sh when stage 1 runs).
if [ "${dry_run}" = false ] && ! stage_selected 1 && any_stage_selected 2 3 4 5 7 9 10 12 13; then
    check_data_roles
fi

mkdir -p "${expdir}"
# ---------------------------------------------------------------- the experiment lock
# One run at a time per ${expdir}: a second run would share its logs, dumps and checkpoints.
# flock holds while this script or a job it started (they inherit the descriptor) runs, and the
# kernel drops it when they die, SIGKILL included, so no stale lock is left. --dry_run and --plan
# only look and take no lock.
if [ "${dry_run}" = false ]; then
    lock_file=${expdir}/.spire.lock
    exec {lock_fd}<>"${lock_file}"
    if ! flock -n "${lock_fd}"; then
        _holder=$(tr -s '\n' ' ' < "${lock_file}")
        log "Error: another run holds the lock ${lock_file} (${_holder:-holder not recorded}): nothing was started." \
            "Wait for it to end, or stop it; the lock goes away with its processes."
        exit 3
    fi
    echo "pid $$ since $(date '+%Y-%m-%dT%H:%M:%S'): ${run_args}" > "${lock_file}"
fi
echo "${run_args}" > "${expdir}/spire.sh.last_command"

# ---------------------------------------------------------------- stage 1: data preparation
if run_stage 1; then
    log "Stage 1: data preparation: local/data.sh ${local_data_opts}"
    # shellcheck disable=SC2086
    local/data.sh --seed "${seed}" ${local_data_opts}
    check_data_roles
    for dset in ${speech_sets}; do
        utils/validate_data_dir.sh --python "${python}" "data/${dset}"
    done
    log "Stage 1: wrote and validated data/{$(tr ' ' , <<< "${speech_sets% }")}"
fi

# ---------------------------------------------------------------- stage 2: audio formatting
if run_stage 2; then
    log "Stage 2: audio formatting (16 kHz mono ${audio_format}) -> ${dumpdir}/raw/<set>"
    # One job set over every speech set: job N formats the N-th key split of each set, so the
    # process start-up is paid nj times, not nj times per set (the paper's recipe has two dozen).
    _jobs=${dumpdir}/logs/stage2
    mkdir -p "${_jobs}"
    rm -f "${_jobs}"/format.*.list "${_jobs}/merge.list"
    _max_nj=0
    for dset in ${speech_sets}; do
        data=data/${dset}
        out=${dumpdir}/raw/${dset}
        logdir=${out}/logs
        mkdir -p "${logdir}"
        key_src=${data}/wav.scp
        [ -f "${data}/segments" ] && key_src=${data}/segments
        _nj=$(split_keys "${key_src}" "${logdir}" "${nj}")
        for j in $(seq "${_nj}"); do
            printf '%s\t%s\t%s\n' "${data}" "${logdir}/keys.${j}.scp" "${out}" >> "${_jobs}/format.${j}.list"
        done
        printf '%s\t%s\t%s\n' "${data}" "${out}" "${_nj}" >> "${_jobs}/merge.list"
        [ "${_nj}" -gt "${_max_nj}" ] && _max_nj=${_nj}
    done
    # Jobs finished by an earlier run (done marker) are skipped.
    # shellcheck disable=SC2086
    ${train_cmd} JOB=1:"${_max_nj}" "${_jobs}/format.JOB.log" \
        ${python} -m espnet_spire.bin.format_wav_scp --job_list "${_jobs}/format.JOB.list" \
            --job JOB --fs 16000 --audio_format "${audio_format}" --resampler "${resampler}"
    # Sorted wav.scp/utt2num_samples/failed and the data files of the survivors, per set; fails
    # (after merging the others) when more than max_failed_ratio of a set's utterances are unusable.
    ${python} -m espnet_spire.bin.format_wav_scp --merge --merge_list "${_jobs}/merge.list" \
        --max_failed_ratio "${max_failed_ratio}"
    # shellcheck disable=SC2046
    utils/validate_data_dir.sh --python "${python}" --nj "${nj}" $(for d in ${speech_sets}; do echo -n "${dumpdir}/raw/${d} "; done)
    for dset in ${speech_sets}; do
        out=${dumpdir}/raw/${dset}
        log "Stage 2: wrote ${out} ($(wc -l < "${out}/wav.scp") utterances, $(wc -l < "${out}/failed" 2>/dev/null || echo 0) failed)"
    done
fi

# ---------------------------------------------------------------- stage 3: SSL feature dump
if run_stage 3; then
    if [ -n "${kmeans_model}" ]; then
        log "Stage 3: skipped, --kmeans_model ${kmeans_model} is given"
    else
        log "Stage 3: ${feature_type} features of ${kmeans_portion} of ${kmeans_sets} (<= ${kmeans_max_frames} frames) -> ${featdir}"
        if [ "$(wc -w <<< "${kmeans_sets}")" -gt 1 ]; then
            # shellcheck disable=SC2046
            ${python} -m espnet_spire.bin.combine_data_dirs --output_dir "${kmeans_dir}" \
                $(for d in ${kmeans_sets}; do echo -n "${dumpdir}/raw/${d} "; done)
        fi
        logdir=${featdir}/logdir
        mkdir -p "${logdir}"
        _nj=$(split_keys "${kmeans_dir}/wav.scp" "${logdir}" "${nj}")
        # shellcheck disable=SC2086
        ${units_cmd} JOB=1:"${_nj}" "${logdir}/dump_ssl_feats.JOB.log" \
            ${python} -m espnet_spire.bin.dump_ssl_feats --data_dir "${kmeans_dir}" \
                --key_file "${logdir}/keys.JOB.scp" --output_dir "${featdir}/output.JOB" \
                ${feature_opts} --device "${units_device}" --portion "${kmeans_portion}" \
                --max_frames $(( kmeans_max_frames / _nj )) --seed "${seed}"
        log "Stage 3: wrote ${featdir}/output.{1..${_nj}}"
    fi
fi

# ---------------------------------------------------------------- stage 4: k-means learning
if run_stage 4; then
    if [ -n "${kmeans_model}" ]; then
        log "Stage 4: skipped, using the k-means model ${kmeans_model}"
    else
        log "Stage 4: k-means K=${nclusters} (${kmeans_backend}) -> ${km_dir}"
        mkdir -p "${km_dir}"
        # shellcheck disable=SC2086
        ${train_cmd} "${km_dir}/learn_kmeans.log" \
            ${python} -m espnet_spire.bin.learn_kmeans --feats "${featdir}" --output_dir "${km_dir}" \
                --n_clusters "${nclusters}" --batch_size "${kmeans_batch_size}" \
                --max_iter "${kmeans_max_iter}" --backend "${kmeans_backend}" --seed "${seed}"
        log "Stage 4: wrote ${km_dir}: $(cd "${km_dir}" && printf '%s ' *)"
    fi
fi

# ---------------------------------------------------------------- stage 5: unit labelling
if run_stage 5; then
    log "Stage 5: labelling with ${km} (${dsu_format}, dedup=${dedup}) -> ${dumpdir}/units/<set>"
    # One job set over every set (as stage 2): the SSL model and k-means load nj times, not nj
    # times per set.
    _jobs=${dumpdir}/logs/stage5
    mkdir -p "${_jobs}"
    rm -f "${_jobs}"/label.*.list "${_jobs}/merge.list"
    _max_nj=0
    for dset in ${unit_sets}; do
        out=${dumpdir}/units/${dset}
        logdir=${out}/logdir
        mkdir -p "${logdir}"
        _nj=$(split_keys "${dumpdir}/raw/${dset}/wav.scp" "${logdir}" "${nj}")
        for j in $(seq "${_nj}"); do
            printf '%s\t%s\t%s\n' "${dumpdir}/raw/${dset}" "${logdir}/keys.${j}.scp" "${logdir}/output.${j}" \
                >> "${_jobs}/label.${j}.list"
        done
        printf '%s\t%s\t%s\n' "${logdir}" "${_nj}" "${out}" >> "${_jobs}/merge.list"
        [ "${_nj}" -gt "${_max_nj}" ] && _max_nj=${_nj}
    done
    # Jobs finished by an earlier run are skipped (done markers hold a hash of their inputs).
    # shellcheck disable=SC2086
    ${units_cmd} JOB=1:"${_max_nj}" "${_jobs}/label_units.JOB.log" \
        ${python} -m espnet_spire.bin.label_units label --job_list "${_jobs}/label.JOB.list" \
            --kmeans "${km}" ${feature_opts} --device "${units_device}" \
            --dsu_format "${dsu_format}" --dedup "${dedup}" --trust_pickle "${kmeans_trust_pickle}"
    ${python} -m espnet_spire.bin.label_units merge --merge_list "${_jobs}/merge.list" \
        --max_failed_ratio "${max_failed_ratio}"
    for dset in ${unit_sets}; do
        out=${dumpdir}/units/${dset}
        log "Stage 5: wrote ${out}/units ($(wc -l < "${out}/units") utterances, $(wc -l < "${out}/failed") failed)"
    done
fi

# ---------------------------------------------------------------- stage 6: tokenizer + model extension
if run_stage 6; then
    if [ ! -f "${base_model}/config.json" ]; then
        log "Error: stage 6 needs --base_model <local HF dir of the base LLM>; '${base_model}' has no config.json"
        exit 2
    fi
    # K comes from the k-means model; --nclusters is a check (a mismatch stops here, naming both).
    log "Stage 6: extending the tokenizer of ${base_model} with the units of ${km} -> ${tok_dir}"
    ${python} -m espnet_spire.bin.extend_tokenizer --base_dir "${base_model}" \
        --output_dir "${tok_dir}" --kmeans "${km}" --num_units "${nclusters}" \
        --trust_pickle "${kmeans_trust_pickle}"
    log "Stage 6: extending the embeddings (${init_strategy}, seed ${lm_seed}) -> ${lm_init}"
    ${python} -m espnet_spire.bin.extend_model --model_dir "${base_model}" \
        --tokenizer_dir "${tok_dir}/base" --output_dir "${lm_init}" \
        --init_strategy "${init_strategy}" --seed "${lm_seed}"
fi

# ---------------------------------------------------------------- stage 7: CPT data
if run_stage 7; then
    log "Stage 7: CPT data (speech:text ${cpt_ratio}, max_len ${cpt_max_len}) -> ${dumpdir}/lm/cpt"
    # Every dir of a CPT role is passed to the builder (its options repeat).
    _asr_args=""
    for d in ${cpt_speech_sets}; do _asr_args+=" --asr_units ${dumpdir}/units/${d}/units --asr_text data/${d}/text"; done
    _mt_args=""
    for d in ${cpt_mt_sets}; do _mt_args+=" --mt_dir data/${d}"; done
    [ -n "${_mt_args}" ] && _mt_args+=" --mt_langs ${tgt_langs}"
    _mono_args=""
    for d in ${cpt_mono_sets}; do _mono_args+=$(mono_args "${d}"); done
    # shellcheck disable=SC2086
    ${python} -m espnet_spire.bin.make_cpt_data --tokenizer_dir "${tok_dir}/base" \
        --output_dir "${dumpdir}/lm/cpt/train" ${_asr_args} \
        ${_mt_args} --src_lang "${src_lang}" ${_mono_args} \
        --speech_text_ratio "${cpt_ratio}" --max_len "${cpt_max_len}" --seed "${seed}" ${cpt_data_opts}
    # shellcheck disable=SC2086
    ${python} -m espnet_spire.bin.make_cpt_data --tokenizer_dir "${tok_dir}/base" \
        --output_dir "${dumpdir}/lm/cpt/valid" \
        --asr_units "${dumpdir}/units/${valid_set}/units" --asr_text "data/${valid_set}/text" \
        --mt_dir "data/${valid_set}" --mt_langs ${tgt_langs} --src_lang "${src_lang}" \
        --speech_text_ratio none --max_len "${cpt_max_len}" --seed "${seed}" ${cpt_data_opts}
    log "Stage 7: wrote ${dumpdir}/lm/cpt/{train,valid}: $(tr -d '\n' < "${dumpdir}/lm/cpt/train/stats.json" | cut -c1-300)"
fi

# ---------------------------------------------------------------- stage 8: CPT training
if run_stage 8; then
    log "Stage 8: CPT (SpireBase) -> ${model_exp[spirebase]}"
    # shellcheck disable=SC2086
    ${train_lm} --python "${python}" "${model_exp[spirebase]}" "${lm_init}" "${dumpdir}/lm/cpt" "${cpt_config}" ${cpt_args}
fi

# ---------------------------------------------------------------- stage 9: pseudo-labelled ST
if run_stage 9; then
    log "Stage 9: pseudo-labelled ST: ${pseudo_src_dir}/text (${pseudo_st_sets}) -> ${tgt_langs} -> ${pseudo_dir}"
    if [ -z "${pseudo_st_translator}" ]; then
        log "Error: stage 9 needs --pseudo_st_translator <local causal LM dir> or 'base' (or --skip_stages 9)"
        exit 2
    fi
    if [ -z "${pseudo_st_sets}" ]; then
        log "Error: stage 9 needs --pseudo_st_sets (or --train_set), the transcripts to translate (or --skip_stages 9)"
        exit 2
    fi
    # shellcheck disable=SC2086
    combine_role "${pseudo_src_dir}" "${dumpdir}/units" ${pseudo_st_sets}
    _translator=${pseudo_st_translator}
    _opts="--qe_filter ${pseudo_st_qe_filter} --threshold ${pseudo_st_threshold}"
    if [ "${_translator}" = base ]; then
        _translator=${base_model}
        _opts+=" --prompt_style cpt"
    fi
    [ -n "${pseudo_st_qe_model}" ] && _opts+=" --qe_model ${pseudo_st_qe_model}"
    [ "${pseudo_st_max_utts}" -gt 0 ] && _opts+=" --max_utts ${pseudo_st_max_utts}"
    if [ "${ngpu}" -gt 0 ]; then _opts+=" --device cuda --comet_gpus 1"; else _opts+=" --device cpu"; fi
    mkdir -p "${pseudo_dir}"
    # Translations and CometKiwi scores are cached in ${pseudo_dir}: a rerun only redoes what changed.
    # shellcheck disable=SC2086
    ${lm_cmd} "${pseudo_dir}/make_pseudo_st.log" \
        ${lm_env} ${python} -m espnet_spire.bin.make_pseudo_st --text "${pseudo_src_dir}/text" --out_dir "${pseudo_dir}" \
            --translator_model "${_translator}" --src_lang "${src_lang}" --tgt_langs "${tgt_langs}" \
            --n_direct "${pseudo_st_n_direct}" --n_multiturn "${pseudo_st_n_multiturn}" --seed "${seed}" \
            ${_opts} ${pseudo_st_args}
    log "Stage 9: wrote ${pseudo_dir}/{direct,multiturn}/text.tc.<lang>; report: ${pseudo_dir}/report.md"
fi

# ---------------------------------------------------------------- stage 10: IT data
if run_stage 10; then
    # Roles fed by several dirs are combined once for every variant (units included).
    # shellcheck disable=SC2086
    {
        combine_role "${it_asr_dir}" "${dumpdir}/units" ${it_asr_sets}
        combine_role "${st_dir}" "${dumpdir}/units" ${st_sets}
        combine_role "${pseudo_src_dir}" "${dumpdir}/units" ${pseudo_st_sets}
        combine_role "${it_mt_dir}" "" ${it_mt_sets}
    }
    # Languages from --tgt_langs and counts from --it_mixture_vars (the mixtures' defaults are the paper's).
    read -ra _langs <<< "${tgt_langs}"
    _mix_opts=(--tgt_langs "${_langs[@]}")
    for _kv in ${it_mixture_vars}; do _mix_opts+=(--var "${_kv}"); done
    for v in ${it_variants}; do
        log "Stage 10: IT data of ${v} (conf/it_mixtures/${v}.yaml, ${it_mixture_vars:-paper counts}) -> ${dumpdir}/lm/it/${v}"
        for part in train valid; do
            # The mixture names each role's dir and units by a placeholder (conf/it_mixtures/*.yaml);
            # validation: the dev set fills every role (gold ST and MT); pseudo labels exist for
            # training only. train_set/mt_train_set are kept for mixtures written before the roles.
            if [ "${part}" = train ]; then
                _vars=(--var it_asr_dir="${it_asr_dir}" --var it_asr_units="${it_asr_units}"
                       --var st_dir="${st_dir}" --var st_units="${st_units}"
                       --var pseudo_st_dir="${pseudo_src_dir}" --var pseudo_st_units="${pseudo_src_units}"
                       --var it_mt_dir="${it_mt_dir}"
                       --var train_set="${train_set}" --var mt_train_set="${mt_train_set}")
                _pseudo=${pseudo_dir}
            else
                _vars=()
                for _r in it_asr st pseudo_st; do
                    _vars+=(--var "${_r}_dir=data/${valid_set}" --var "${_r}_units=${dumpdir}/units/${valid_set}/units")
                done
                # (no MT validation when the MT role is empty: the dev set need not have parallel text)
                _vars+=(--var it_mt_dir="${it_mt_sets:+data/${valid_set}}" --var train_set="${valid_set}" --var mt_train_set="${valid_set}")
                _pseudo=""
            fi
            # shellcheck disable=SC2086
            ${python} -m espnet_spire.bin.make_it_data --tokenizer_dir "${tok_dir}/instruct" \
                --mixture "conf/it_mixtures/${v}.yaml" --output_dir "${dumpdir}/lm/it/${v}/${part}" \
                --var dumpdir="${dumpdir}" "${_vars[@]}" \
                --var towerblocks="${towerblocks}" --pseudo_dir "${_pseudo}" \
                "${_mix_opts[@]}" \
                --max_len "${it_max_len}" --prompt_style "${prompt_style}" --seed "${seed}"
        done
    done
fi

# ---------------------------------------------------------------- stage 11: IT training
if run_stage 11; then
    for v in ${it_variants}; do
        # TowerFull: IT straight from the extended base (no CPT); the others start from SpireBase.
        if [ "${v}" = towerfull ]; then _init=${lm_init}; else _init=${model_exp[spirebase]}/hf_model; fi
        log "Stage 11: IT of ${v} from ${_init} -> ${model_exp[${v}]}"
        # shellcheck disable=SC2086
        ${train_lm} --python "${python}" "${model_exp[${v}]}" "${_init}" "${dumpdir}/lm/it/${v}" "${it_config}" ${it_args}
    done
fi

# ---------------------------------------------------------------- stage 12: decoding
if run_stage 12; then
    for entry in ${decode_models}; do
        IFS=: read -r _exp _model _tasks <<< "${entry}"
        _style_opt=""
        [ "${_model}" = "${base_model}" ] && _style_opt="--prompt_style cpt"   # no spire.json there
        # One job set per model over every test set: job N decodes the N-th key split of each set,
        # so the model is loaded nj times, not nj times per test set.
        _jobs=${_exp}/decode_${decode_tag}/logdir
        mkdir -p "${_jobs}"
        rm -f "${_jobs}"/decode.*.list
        _max_nj=0
        _decoded=()
        # Speech test sets take every task they have references for; text-only ones the MT tasks
        # of their languages (tasks a set cannot serve are skipped with a log line).
        for test_set in ${test_sets} ${text_test_sets}; do
            # shellcheck disable=SC2086
            _set_tasks=$(servable_tasks "data/${test_set}" ${_tasks//,/ })
            if [ -z "${_set_tasks}" ]; then
                log "Stage 12: no task of ${_exp} can be decoded on ${test_set}: skipped"
                continue
            fi
            _dir=${_exp}/decode_${decode_tag}/${test_set}
            _logdir=${_dir}/logdir
            mkdir -p "${_logdir}"
            log "Stage 12: decoding ${test_set} with ${_exp} (${_set_tasks% }) -> ${_dir}"
            _keys=data/${test_set}/text
            [ -f "${_keys}" ] || _keys=data/${test_set}/text.tc.${src_lang}   # text-only test set
            _units=-
            [ -f "data/${test_set}/wav.scp" ] && _units=${dumpdir}/units/${test_set}/units
            # Outputs of an earlier run (perhaps with more jobs) must never be merged into this one.
            rm -rf "${_logdir}"/output.*
            _nj=$(split_keys "${_keys}" "${_logdir}" "${inference_nj}")
            for j in $(seq "${_nj}"); do
                printf '%s\t%s\t%s\t%s\t%s\n' "${_logdir}/output.${j}" "${_logdir}/keys.${j}.scp" "${_units}" \
                    "data/${test_set}" "${_set_tasks% }" >> "${_jobs}/decode.${j}.list"
            done
            [ "${_nj}" -gt "${_max_nj}" ] && _max_nj=${_nj}
            _decoded+=("${test_set}:${_nj}:${_set_tasks% }")
        done
        [ "${_max_nj}" -eq 0 ] && continue
        # shellcheck disable=SC2086
        ${decode_cmd} JOB=1:"${_max_nj}" "${_jobs}/decode.JOB.log" \
            ${python} -m espnet_spire.bin.spire_lm_decode --model_dir "${_model}" \
                --job_list "${_jobs}/decode.JOB.list" \
                --batch_size "${decode_batch_size}" --dtype "${decode_dtype}" \
                --max_new_tokens "${decode_max_new_tokens}" ${_style_opt}
        for _entry in "${_decoded[@]}"; do
            IFS=: read -r test_set _nj _set_tasks <<< "${_entry}"
            _dir=${_exp}/decode_${decode_tag}/${test_set}
            # jobs 1.._nj only; an id decoded by two jobs or a job without output stops the stage
            # shellcheck disable=SC2086
            ${python} -m espnet_spire.bin.merge_decode_jobs --logdir "${_dir}/logdir" --nj "${_nj}" \
                --tasks ${_set_tasks} --output_dir "${_dir}"
            log "Stage 12: wrote ${_dir}/{$(tr ' ' , <<< "${_set_tasks}")}/text ($(wc -l < "${_dir}/${_set_tasks%% *}/text") utterances each)"
        done
    done
    if [ "${copy_baseline}" = true ]; then
        # The floor of speech translation: the English transcript itself, given as the translation.
        for test_set in ${test_sets}; do
            _dir=${copy_dir}/${test_set}
            _src=data/${test_set}/text.tc.${src_lang}
            [ -f "${_src}" ] || _src=data/${test_set}/text
            # shellcheck disable=SC2086
            for task in $(servable_tasks "data/${test_set}" ${decode_tasks}); do
                case "${task}" in st_*|multiturn_st_*) ;; *) continue ;; esac
                mkdir -p "${_dir}/${task}"
                LC_ALL=C sort "${_src}" > "${_dir}/${task}/text"
            done
            log "Stage 12: wrote ${_dir}/<st task>/text (copy-the-transcript baseline, from ${_src})"
        done
    fi
fi

# ---------------------------------------------------------------- stage 13: scoring, RESULTS.md
if run_stage 13; then
    # shellcheck disable=SC2086
    _score_sets=$(uniq_words ${test_sets} ${text_test_sets})
    log "Stage 13: scoring this run's decode_${decode_tag} dirs on $(tr ' ' , <<< "${_score_sets% }") -> score_*/, RESULTS.md"
    score_opts="--normalizer ${score_normalizer} --spbleu ${spbleu}"
    [ -n "${flores200_spm}" ] && score_opts+=" --flores200_spm ${flores200_spm}"
    [ -n "${comet_model}" ] && score_opts+=" --comet_model ${comet_model}"
    [ -n "${cometkiwi_model}" ] && score_opts+=" --cometkiwi_model ${cometkiwi_model}"
    [ "${ngpu}" -gt 0 ] && score_opts+=" --comet_gpus 1"
    # This run's decode dirs only (its decode_tag, variants and test sets): decode dirs of earlier
    # settings left under exp/ are neither scored nor listed in RESULTS.md. Each model's dir is
    # "DIR:TASKS" (TASKS "copy": the copy-the-transcript baseline's ST tasks).
    _decodes=()
    for entry in ${decode_models}; do
        IFS=: read -r _exp _model _tasks <<< "${entry}"
        _decodes+=("${_exp}/decode_${decode_tag}:${_tasks//,/ }")
    done
    [ "${copy_baseline}" = true ] && _decodes+=("${copy_dir}:copy")
    _todo=()       # "DIR REF HYP" of every task dir to score (HYP: an external system's file, or -)
    _missing=()
    _results_dirs=()
    for _d in "${_decodes[@]}"; do
        _ddir=${_d%%:*}
        _results_dirs+=(--decode_dir "${_ddir}")
        for dset in ${_score_sets}; do
            if [ "${_d#*:}" = copy ]; then
                [[ " ${test_sets} " == *" ${dset} "* ]] || continue
                # shellcheck disable=SC2086
                _set_tasks=$(for t in $(servable_tasks "data/${dset}" ${decode_tasks} 2> /dev/null); do
                    case "${t}" in st_*|multiturn_st_*) echo -n "${t} " ;; esac; done)
            else
                # shellcheck disable=SC2086
                _set_tasks=$(servable_tasks "data/${dset}" ${_d#*:} 2> /dev/null)
            fi
            for _task in ${_set_tasks}; do
                if [ ! -f "${_ddir}/${dset}/${_task}/text" ]; then
                    _missing+=("${_ddir}/${dset}/${_task}/text")
                else
                    _todo+=("${_ddir}/${dset}/${_task} $(score_task_ref "${dset}" "${_task}") -")
                fi
            done
        done
    done
    if [ "${#_missing[@]}" -gt 0 ]; then
        log "Error: ${#_missing[@]} decode outputs of this run (--variants ${variants}, --decode_tag ${decode_tag}) are missing; run stage 12 for them (nothing was scored):"
        printf '    %s\n' "${_missing[@]}" >&2
        exit 1
    fi
    _ext=""
    for _sys in ${external_systems}; do   # NAME=DIR: other systems' outputs, DIR/<test_set>/<task>/hyp.txt
        _ext+=" --external ${_sys}"
        for dset in ${_score_sets}; do
            for _dir in "${_sys#*=}/${dset}"/*/; do
                _dir=${_dir%/}
                _ref=$(score_task_ref "${dset}" "$(basename "${_dir}")")
                [ -z "${_ref}" ] && continue   # not a task dir
                if [ -f "${_dir}/hyp.txt" ]; then
                    _todo+=("${_dir} ${_ref} ${_dir}/hyp.txt")
                elif [ -f "${_dir}/text" ]; then
                    _todo+=("${_dir} ${_ref} -")
                fi
            done
        done
    done
    # Every task dir goes into one list, scored by one process (COMET-22 and CometKiwi are each
    # loaded once for all translation dirs).
    _score_list=${expdir}/logdir/score.list
    mkdir -p "${expdir}/logdir"
    : > "${_score_list}"
    _n=0
    for _item in "${_todo[@]}"; do
        read -r _dir _ref _hyp <<< "${_item}"
        if [ ! -f "${_ref}" ]; then
            log "Stage 13: ${_dir}: no reference ${_ref}: skipped"
            continue
        fi
        printf '%s\t%s\t%s\t%s\n' "${_dir}" "${_ref}" "${_hyp}" auto >> "${_score_list}"
        _n=$((_n + 1))
    done
    if [ "${_n}" -gt 0 ]; then
        log "Stage 13: scoring ${_n} decode dirs (${_score_list})"
        # shellcheck disable=SC2086
        ${python} -m espnet_spire.bin.score_decode_dir --task auto --list "${_score_list}" \
            ${score_opts} ${score_args}
    fi
    if [ "${_n}" -eq 0 ]; then
        log "Error: no decode dir with a 'text' for this run's models and test sets ($(tr ' ' , <<< "${_score_sets% }")) (run stage 12)"
        exit 1
    fi
    # Settings a reader needs to interpret the numbers, stated in RESULTS.md itself.
    _notes=()
    while IFS= read -r _note; do
        [ -n "${_note}" ] && _notes+=(--note "${_note}")
    done <<< "${results_notes}"
    [ "${pseudo_st_qe_filter}" = false ] && _notes+=(--note "Pseudo-labelled ST was not quality-filtered (--pseudo_st_qe_filter false: no CometKiwi model).")
    [ "${spbleu}" = false ] && _notes+=(--note "spBLEU not computed (--spbleu false: no local flores200 SentencePiece model); BLEU uses the tokenizers in the signatures below.")
    [ "${copy_baseline}" = true ] && _notes+=(--note "copy_transcript: the English transcript given as the translation (the floor of ST).")
    # shellcheck disable=SC2086
    ${python} -m espnet_spire.bin.make_results --exp_dir "${expdir}" --out RESULTS.md ${_ext} \
        "${_results_dirs[@]}" "${_notes[@]}"
    log "Stage 13: scored ${_n} decode dirs; wrote RESULTS.md"
fi

# ---------------------------------------------------------------- stage 14: export and pack
if run_stage 14; then
    for v in ${variants}; do
        _exp=${model_exp[${v}]}
        log "Stage 14: exporting ${v} -> ${_exp}/export (the Hub repo: HF files at its root) and ${_exp}/${v}.tar.gz"
        _conf_args="--conf ${cpt_config}"
        [ "${v}" != spirebase ] && _conf_args+=" --conf ${it_config} --conf conf/it_mixtures/${v}.yaml"
        _results=""
        [ -f RESULTS.md ] && _results="--results RESULTS.md"
        # shellcheck disable=SC2086
        ${python} -m espnet_spire.bin.export_model --model_dir "${_exp}/hf_model" \
            --output_dir "${_exp}/export" --kmeans "${km}" \
            ${_conf_args} ${_results} --pack "${_exp}/${v}.tar.gz" --name "${v}" \
            --trust_pickle "${kmeans_trust_pickle}" --languages "${src_lang} ${tgt_langs}" \
            --license "${hf_license}" --base_model_id "${hf_base_model}"
    done
fi

# ---------------------------------------------------------------- stage 15: upload
if run_stage 15; then
    if [ -z "${hf_repo}" ]; then
        log "Error: stage 15 needs --hf_repo <user>/<name> (and a Hugging Face token in the environment)"
        exit 2
    fi
    for v in ${variants}; do
        _repo=${hf_repo}
        [ "$(wc -w <<< "${variants}")" -gt 1 ] && _repo=${hf_repo}-${v}
        log "Stage 15: uploading ${model_exp[${v}]}/export to https://huggingface.co/${_repo} (dry run: ${hf_upload_dry_run})"
        # shellcheck disable=SC2086
        HF_HUB_OFFLINE=0 ${python} -m espnet_spire.bin.upload_model --repo_id "${_repo}" \
            --folder "${model_exp[${v}]}/export" --dry_run "${hf_upload_dry_run}" ${hf_upload_args}
    done
fi

current_stage="done"
log "Successfully finished. [elapsed=${SECONDS}s]"
