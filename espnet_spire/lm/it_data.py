"""Stage 10: instruction-tuning (IT) data: ChatML conversations, a YAML mixture, loss masks.

Conversation kinds (prompts from :mod:`espnet_spire.lm.prompts`):

``asr``           user ``Speech: {units}\\nEnglish:`` -> assistant transcript
``st``            user ``Speech: {units}\\n{Lang}:`` -> assistant translation (gold or pseudo-labelled)
``multiturn_st``  ASR turn, assistant transcript, user ``{Lang}:``, assistant translation
``mt``            the zero-shot MT prompt, both directions en<->xx (configurable)
``jsonl``         TowerBlocks-style ``{"conversations": [{"from", "value"}, ...]}`` records

A mixture (``conf/it_mixtures/*.yaml``) lists sources with their files and sample counts;
``${name}`` placeholders are filled from ``--var name=value`` options (over the defaults of the
mixture's own ``variables:`` block) so one YAML serves every data set and scale: the paper's
counts are the defaults, the demo passes its own. ``langs: ${tgt_langs}`` takes the recipe's
target languages (a space- or comma-separated string, put in code order). ``num_samples`` is
``all``, a total ``N`` over the source, or ``N/lang`` (``N`` per language pair, the paper's
"60K per pair"). A source with ``required: false`` whose files are missing (or whose placeholders
are not given) is left out with a warning; a required one stops the stage.

Outputs (training data contract, :mod:`espnet_spire.lm.token_data`): ``conversations.jsonl`` (one
compat-vector-17 line per conversation, in key order), ``key2source`` (``key source example_id``),
``input_ids``/``loss_mask`` (BOS + the conversation rendered with the TowerInstruct template; mask
1 on assistant contents and their closing ``<|im_end|>``, 0 on everything else), ``stats.json``,
``tokenizer_dir`` and ``skipped``.
"""

from __future__ import annotations

import logging
import os
import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import yaml

from espnet_spire.common.cli import split_words
from espnet_spire.common.fileio import atomic_open
from espnet_spire.lm.languages import ST_TARGETS, normalize_code
from espnet_spire.lm.prompts import (
    IM_END,
    Message,
    PromptStyle,
    asr_prompt,
    conversation_problem,
    from_sharegpt,
    it_data_line,
    mt_prompt,
    multiturn_st_messages,
    render_chat,
    st_prompt,
)
from espnet_spire.lm.sources import (
    UnitFormatError,
    iter_jsonl_conversations,
    read_parallel,
    read_text,
    read_units,
    text_file,
    to_pua,
)
from espnet_spire.lm.text_policy import TextPolicy, TextPolicyError
from espnet_spire.lm.token_data import SplitWriter

logger = logging.getLogger(__name__)

Skip = Tuple[str, str, str]
_VAR_RE = re.compile(r"\$\{(\w+)\}")
SOURCE_TYPES = ("asr", "st", "multiturn_st", "mt", "jsonl")


@dataclass
class Conversation:
    """One IT example."""

    example_id: str
    source: str
    messages: List[Message]
    lang: Optional[str] = None  # the target (or non-English) language, for per-language counts


# ------------------------------------------------------------------ mixture config


def substitute(value, variables: Mapping[str, str]):
    """Fill ``${name}`` placeholders in strings (recursively); unknown names are left in place."""
    if isinstance(value, str):
        return _VAR_RE.sub(lambda m: str(variables.get(m.group(1), m.group(0))), value)
    if isinstance(value, list):
        return [substitute(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, variables) for k, v in value.items()}
    return value


def load_mixture(path: str, variables: Optional[Mapping[str, str]] = None) -> Dict:
    """Read a mixture YAML and fill its placeholders (``variables`` over the YAML's own
    ``variables:`` defaults); checks the schema."""
    with open(path, encoding="utf-8") as f:
        mix = yaml.safe_load(f) or {}
    defaults = mix.get("variables") or {}
    if not isinstance(defaults, dict):
        raise ValueError(f"{path}: 'variables' must be a mapping of name: value")
    mix = substitute(mix, {**{k: str(v) for k, v in defaults.items()}, **dict(variables or {})})
    if not isinstance(mix.get("sources"), list) or not mix["sources"]:
        raise ValueError(f"{path}: a mixture needs a non-empty 'sources' list")
    names = set()
    for src in mix["sources"]:
        if src.get("type") not in SOURCE_TYPES:
            raise ValueError(f"{path}: source {src.get('name')!r} has type {src.get('type')!r}; one of {SOURCE_TYPES}")
        if not src.get("name") or src["name"] in names:
            raise ValueError(f"{path}: every source needs a unique name (got {src.get('name')!r})")
        names.add(src["name"])
        if isinstance(src.get("langs"), str) and not _VAR_RE.search(src["langs"]):
            src["langs"] = sorted(set(split_words([src["langs"]])))
        try:
            parse_num_samples(src.get("num_samples", "all"))
        except ValueError as e:
            if not _VAR_RE.search(str(src.get("num_samples"))):
                raise ValueError(f"{path}: source {src['name']}: {e}") from None
    mix.setdefault("name", os.path.splitext(os.path.basename(path))[0])
    return mix


def _unresolved(src: Dict) -> List[str]:
    found = []
    for v in src.values():
        for s in (v if isinstance(v, list) else [v]):
            if isinstance(s, str):
                found += _VAR_RE.findall(s)
    return found


def _required_paths(src: Dict) -> List[str]:
    t = src["type"]
    if t == "asr":
        return [src["units"], src["text"]]
    if t in ("st", "multiturn_st"):
        return [src["units"], src["text_dir"]] + ([src["text"]] if t == "multiturn_st" else [])
    if t == "mt":
        return [src["mt_dir"]]
    return [src["path"]]


# ------------------------------------------------------------------ building conversations per source


def _units_or_skip(
    units: Dict[str, str], key: str, num_units: Optional[int], skipped: List[Skip], name: str
) -> Optional[str]:
    if key not in units:
        skipped.append((f"{name}:{key}", "no_units", ""))
        return None
    try:
        d = to_pua(units[key], num_units)
    except UnitFormatError as e:
        skipped.append((f"{name}:{key}", "bad_units", str(e)))
        return None
    if not d:
        skipped.append((f"{name}:{key}", "empty_units", ""))
        return None
    return d


def _text_ok(text: str, key: str, policy: TextPolicy, skipped: List[Skip], name: str) -> bool:
    if not text:
        skipped.append((f"{name}:{key}", "empty_text", ""))
        return False
    try:
        policy.check(text, f"{name}:{key}")
    except TextPolicyError as e:
        skipped.append((f"{name}:{key}", e.reason, e.detail))
        return False
    return True


def source_conversations(src: Dict, style: PromptStyle, policy: TextPolicy, skipped: List[Skip],
                         rng: random.Random) -> List[Conversation]:
    """All candidate conversations of one mixture source (before sampling)."""
    name, kind = src["name"], src["type"]
    langs = [normalize_code(x) for x in src.get("langs", ST_TARGETS)]
    pattern = src.get("file_pattern", "text.tc.{lang}")
    out: List[Conversation] = []
    if kind == "asr":
        units, texts = read_units(src["units"]), read_text(src["text"])
        for key, t in texts.items():
            d = _units_or_skip(units, key, policy.num_units, skipped, name)
            if d is not None and _text_ok(t, key, policy, skipped, name):
                out.append(Conversation(key, name, [{"role": "user", "content": asr_prompt(d, style)},
                                                    {"role": "assistant", "content": t}]))
    elif kind in ("st", "multiturn_st"):
        units = read_units(src["units"])
        transcripts = read_text(src["text"]) if kind == "multiturn_st" else {}
        for lang in langs:
            path = text_file(src["text_dir"], lang, pattern)
            if not os.path.isfile(path):
                if src.get("required", True) and not src.get("allow_missing_langs", False):
                    raise FileNotFoundError(f"source {name}: {path} not found")
                logger.warning("source %s: %s not found, language %s left out", name, path, lang)
                continue
            for key, tr in read_text(path).items():
                ex = f"{key}-{lang}"
                d = _units_or_skip(units, key, policy.num_units, skipped, name)
                if d is None or not _text_ok(tr, ex, policy, skipped, name):
                    continue
                if kind == "st":
                    msgs = [{"role": "user", "content": st_prompt(d, lang, style)},
                            {"role": "assistant", "content": tr}]
                else:
                    t = transcripts.get(key, "")
                    if not _text_ok(t, ex, policy, skipped, name):
                        continue
                    msgs = multiturn_st_messages(d, t, lang, tr, style)
                out.append(Conversation(ex, name, msgs, lang))
    elif kind == "mt":
        src_lang = src.get("src_lang", "en")
        directions = src.get("directions", "both")
        for lang in langs:
            if lang == src_lang:
                continue
            for key, a, b in read_parallel(src["mt_dir"], src_lang, lang, pattern):
                ex = f"{key}-{src_lang}-{lang}"
                if not (_text_ok(a, ex, policy, skipped, name) and _text_ok(b, ex, policy, skipped, name)):
                    continue
                pairs = {"both": [(src_lang, lang), (lang, src_lang)], "en2xx": [(src_lang, lang)],
                         "xx2en": [(lang, src_lang)],
                         "random": [rng.choice([(src_lang, lang), (lang, src_lang)])]}.get(directions)
                if pairs is None:
                    raise ValueError(f"source {name}: directions must be both, en2xx, xx2en or random")
                text_of = {src_lang: a, lang: b}
                for s, t in pairs:
                    out.append(Conversation(f"{key}-{s}2{t}", name, [
                        {"role": "user", "content": mt_prompt(text_of[s], s, t)},
                        {"role": "assistant", "content": text_of[t]}], lang))
    elif kind == "jsonl":
        for lineno, rec in iter_jsonl_conversations(src["path"]):
            ex = str(rec.get("id", f"line{lineno}"))
            try:
                msgs = from_sharegpt(rec)
            except (ValueError, KeyError, TypeError) as e:
                skipped.append((f"{name}:{ex}", "bad_record", str(e)))
                continue
            problem = conversation_problem(msgs)
            if problem:
                skipped.append((f"{name}:{ex}", "bad_turns", problem))
                continue
            bad = [v for m in msgs for v in policy.violations(m["content"])]
            if bad:
                skipped.append((f"{name}:{ex}", bad[0][0], bad[0][1]))
                continue
            out.append(Conversation(ex, name, msgs))
    return out


def parse_num_samples(value) -> Tuple[Optional[int], bool]:
    """``all``/None -> (None, False); ``2000`` -> (2000, False); ``60000/lang`` -> (60000, True)."""
    if value is None or value == "all":
        return None, False
    s = str(value).strip()
    per_lang = s.endswith("/lang")
    n = s[: -len("/lang")].strip() if per_lang else s
    if not n.isdigit():
        raise ValueError(f"num_samples must be 'all', a count or '<count>/lang', got {value!r}")
    return int(n), per_lang


def sample_source(convs: List[Conversation], num_samples, replace: bool, rng: random.Random,
                  name: str) -> List[Conversation]:
    """:func:`sample` of the whole source, or of each language in turn for ``N/lang`` counts."""
    n, per_lang = parse_num_samples(num_samples)
    if not per_lang:
        return sample(convs, num_samples, replace, rng, name)
    groups: Dict[Optional[str], List[Conversation]] = {}
    for c in convs:
        groups.setdefault(c.lang, []).append(c)
    if None in groups:
        raise ValueError(f"source {name}: per-language counts ({num_samples}) need a source with languages "
                         "(st, multiturn_st or mt)")
    chosen: List[Conversation] = []
    for lang, group in groups.items():
        chosen += sample(group, n, replace, rng, f"{name}:{lang}")
    return chosen


def sample(convs: List[Conversation], num_samples, replace: bool, rng: random.Random, name: str) -> List[Conversation]:
    """``num_samples`` conversations: ``all``/None keeps all; more than available needs ``replace``."""
    if num_samples in (None, "all"):
        return list(convs)
    n = int(num_samples)
    if n <= len(convs):
        return rng.sample(convs, n)
    if not replace:
        logger.warning("source %s: %d samples requested, only %d available (set replace: true to repeat)",
                       name, n, len(convs))
        return list(convs)
    extra = [rng.choice(convs) for _ in range(n - len(convs))] if convs else []
    return list(convs) + extra


# ------------------------------------------------------------------ tokenization with the loss mask


def assistant_spans(messages: Sequence[Message]) -> Tuple[str, List[Tuple[int, int]]]:
    """Render a training conversation (every turn closed) and the char spans that carry loss.

    A span covers an assistant content plus the ``<|im_end|>`` that closes it; the newline after
    ``<|im_end|>`` and every user/system part carry none.
    """
    rendered = render_chat(messages, add_generation_prompt=True)
    spans = []
    pos = 0
    for m in messages:
        head = f"<|im_start|>{m['role']}\n"
        start = rendered.index(head, pos) + len(head)
        end = start + len(m["content"])
        assert rendered.startswith(IM_END, end)
        if m["role"] == "assistant":
            spans.append((start, end + len(IM_END)))
        pos = end + len(IM_END)
    return rendered, spans


def encode_conversation(tokenizer, messages: Sequence[Message]) -> Tuple[List[int], List[int]]:
    """``(ids, mask)`` for one conversation: BOS + template rendering, mask from offsets."""
    rendered, spans = assistant_spans(messages)
    enc = tokenizer(rendered, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    mask = []
    for s, e in offsets:
        mask.append(1 if any(s < b and e > a for a, b in spans) else 0)
    bos = tokenizer.bos_token_id
    if bos is not None:
        ids, mask = [bos] + list(ids), [0] + mask
    return list(ids), mask


def check_template(tokenizer) -> None:
    """The tokenizer's chat template must render exactly like :func:`render_chat`."""
    probe = [{"role": "user", "content": "P"}, {"role": "assistant", "content": "A"}, {"role": "user", "content": "Q"}]
    for gen in (True, False):
        got = tokenizer.apply_chat_template(probe, tokenize=False, add_generation_prompt=gen)
        if got != render_chat(probe, gen):
            raise ValueError(f"tokenizer chat template renders {got!r}, expected {render_chat(probe, gen)!r}; "
                             "use the instruct tokenizer of stage 6")


def build_it_data(tokenizer_dir: str, output_dir: str, mixture: Dict, max_len: int = 4096, seed: Optional[int] = None,
                  style: Optional[PromptStyle] = None, policy: Optional[TextPolicy] = None,
                  key_prefix: str = "it") -> Dict[str, object]:
    """Write one IT split from a loaded mixture (see :func:`load_mixture`)."""
    from tqdm import tqdm
    from transformers import AutoTokenizer

    from espnet_spire.lm.tokenizer_extension import INFO_FILE, TokenizerInfo

    tok = AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)
    check_template(tok)
    has_info = os.path.isfile(os.path.join(tokenizer_dir, INFO_FILE))
    num_units = TokenizerInfo.load(tokenizer_dir).num_units if has_info else None
    policy = policy or TextPolicy.for_tokenizer(tok, num_units)
    seed = int(mixture.get("seed", 0)) if seed is None else seed
    style = style or PromptStyle.from_name(mixture.get("prompt_style", "head"))
    rng = random.Random(seed)
    skipped: List[Skip] = []
    convs: List[Conversation] = []
    per_source: Dict[str, Dict[str, int]] = defaultdict(
        lambda: {"available": 0, "selected": 0, "tokens": 0, "loss_tokens": 0})
    left_out = []
    for src in mixture["sources"]:
        name = src["name"]
        missing = _unresolved(src) or [p for p in _required_paths(src) if not os.path.exists(p)]
        if missing:
            if src.get("required", True):
                raise FileNotFoundError(f"mixture {mixture['name']}: source {name} needs {missing} "
                                        f"(give --var values or mark it 'required: false')")
            logger.warning("source %s left out (missing: %s)", name, missing)
            left_out.append(name)
            continue
        cands = source_conversations(src, style, policy, skipped, rng)
        chosen = sample_source(cands, src.get("num_samples", "all"), bool(src.get("replace", False)), rng, name)
        per_source[name]["available"] = len(cands)
        per_source[name]["selected"] = len(chosen)
        convs += chosen
        logger.info("source %s (%s): %d of %d conversations", name, src["type"], len(chosen), len(cands))
    if not convs:
        raise ValueError(f"mixture {mixture['name']}: no conversations")
    rng.shuffle(convs)

    writer = SplitWriter(output_dir)
    width = max(8, len(str(len(convs))))
    n = 0
    lengths = []
    with atomic_open(os.path.join(output_dir, "conversations.jsonl")) as fj, \
            atomic_open(os.path.join(output_dir, "key2source")) as fk:
        for c in tqdm(convs, desc="encode", unit="conv", disable=len(convs) < 5000):
            ids, mask = encode_conversation(tok, c.messages)
            if len(ids) > max_len:
                skipped.append((f"{c.source}:{c.example_id}", "too_long", f"{len(ids)} tokens > max_len {max_len}"))
                per_source[c.source]["selected"] -= 1
                continue
            key = f"{key_prefix}{n:0{width}d}"
            n += 1
            writer.add(key, ids, mask)
            fj.write(it_data_line(c.messages) + "\n")
            fk.write(f"{key} {c.source} {c.example_id}\n")
            per_source[c.source]["tokens"] += len(ids)
            per_source[c.source]["loss_tokens"] += sum(mask)
            lengths.append(len(ids))
    stats = {
        "stage": "it_data",
        "mixture": mixture["name"],
        "sequences": writer.sequences,
        "tokens": writer.tokens,
        "loss_tokens": writer.loss_tokens,
        "padding_share": 0.0,  # one conversation per sequence; the trainer pads batches
        "max_sequence_tokens": max(lengths) if lengths else 0,
        "mean_sequence_tokens": (sum(lengths) / len(lengths)) if lengths else 0.0,
        "max_len": max_len,
        "seed": seed,
        "prompt_style": {"newline": style.newline, "speech_prefix": style.speech_prefix},
        "sources": dict(per_source),
        "sources_left_out": left_out,
        "skipped": len(skipped),
        "skipped_reasons": dict(Counter(r for _, r, _ in skipped)),
        "tokenizer_length": len(tok),
        "num_units": num_units,
        "mixture_config": mixture,
    }
    writer.close(stats, tokenizer_dir, skipped,
                 facts={"stage": "it_data", "prompt_style": style.name, "mixture": mixture["name"],
                        "num_units": num_units})
    logger.info("%s: %d conversations, %d tokens (%d with loss), %d skipped", output_dir, writer.sequences,
                writer.tokens, writer.loss_tokens, len(skipped))
    return stats
