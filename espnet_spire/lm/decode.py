"""Stage 12: batched greedy decoding of a (SPIRE) causal LM, the way SPIRE evaluates.

Greedy (argmax), at most 256 new tokens, stop at the first newline or at an eos id, the stop
text excluded (compat vector 22; SpireLM ``inference.py`` with the stop-string typos of B3
fixed). The model sees ``<s>`` + the prompt, rendered with the tokenizer's chat template when it
has one (instruct models) or raw (base models).

Batching uses LEFT padding with explicit position ids and a KV cache, so a batched run gives the
same tokens as one-by-one decoding (tested). Ids >= ``len(tokenizer)`` (the padding rows of the
embedding matrix, 37007..37055 in SPIRE) get ``-inf`` logits and can never be emitted (pain
point 9).

Each prompt gets ``min(max_new_tokens, max_positions - its length)`` new tokens; a prompt that
leaves no position for one is skipped alone (``too_long`` in the decode dir's ``skipped``, its
hypothesis absent, so scoring counts it as missing) and the others are batched without it
(issue #15: one over-long prompt used to empty its whole batch).
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from espnet_spire.common.fileio import write_json
from espnet_spire.lm.languages import lang_name, normalize_code
from espnet_spire.lm.prompts import (
    PromptStyle,
    asr_prompt,
    cpt_prompt,
    mt_prompt,
    multiturn_st_messages,
    st_prompt,
    user_turn,
)

logger = logging.getLogger(__name__)


@dataclass
class DecodeConfig:
    """Decoding options (written to ``decode_info.json``)."""

    batch_size: int = 16
    max_new_tokens: int = 256
    stop_at_newline: bool = True
    dtype: str = "float32"  # or bfloat16
    device: str = "auto"
    use_chat_template: Optional[bool] = None  # None: use it when the tokenizer has one
    style: PromptStyle = field(default_factory=PromptStyle)
    sort_by_length: bool = True


# ------------------------------------------------------------------ tasks and prompts


@dataclass(frozen=True)
class Task:
    """A decoding task: ``asr``, ``st_<lang>``, ``mt_<src>_<tgt>`` or ``multiturn_st_<lang>``."""

    kind: str
    src: str = "en"
    tgt: str = "en"

    @property
    def name(self) -> str:
        return {"asr": "asr", "st": f"st_{self.tgt}", "mt": f"mt_{self.src}_{self.tgt}",
                "multiturn_st": f"multiturn_st_{self.tgt}"}[self.kind]

    @property
    def speech(self) -> bool:
        return self.kind != "mt"


def parse_task(name: str) -> Task:
    """Parse a task name; language codes are validated against the prompt language table."""
    if name == "asr":
        return Task("asr")
    parts = name.split("_")
    if name.startswith("multiturn_st_") and len(parts) == 3:
        t = Task("multiturn_st", "en", normalize_code(parts[2]))
    elif parts[0] == "st" and len(parts) == 2:
        t = Task("st", "en", normalize_code(parts[1]))
    elif parts[0] == "mt" and len(parts) == 3:
        t = Task("mt", normalize_code(parts[1]), normalize_code(parts[2]))
    else:
        raise ValueError(f"unknown task {name!r}: use asr, st_<lang>, mt_<src>_<tgt> or multiturn_st_<lang>")
    lang_name(t.src), lang_name(t.tgt)
    return t


def build_messages(
    task: Task, source: str, style: PromptStyle, transcript: Optional[str] = None
) -> List[Dict[str, str]]:
    """The chat messages of one decoding input (``source`` = PUA units or MT source text)."""
    if style.cpt:
        if task.kind == "multiturn_st":
            raise ValueError("multi-turn ST needs an instruct model; the cpt prompt style has no turns")
        return user_turn(cpt_prompt(source, task.src, task.tgt, task.speech))
    if task.kind == "asr":
        return user_turn(asr_prompt(source, style))
    if task.kind == "st":
        return user_turn(st_prompt(source, task.tgt, style))
    if task.kind == "mt":
        return user_turn(mt_prompt(source, task.src, task.tgt))
    if transcript is None:
        raise ValueError("multi-turn ST needs the first-turn transcript")
    return multiturn_st_messages(source, transcript, task.tgt, None, style)


def render_prompt(tokenizer, messages: List[Dict[str, str]], use_chat_template: Optional[bool]) -> str:
    """Chat-template rendering for instruct models, the bare prompt for base models."""
    use = getattr(tokenizer, "chat_template", None) is not None if use_chat_template is None else use_chat_template
    if use:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    if len(messages) != 1:
        # A base model has no turns: flatten as the paper-era "st_simple_gold" style prompt.
        return " ".join(m["content"] for m in messages)  # pragma: no cover - multi-turn needs a chat model
    return messages[0]["content"]


# ------------------------------------------------------------------ the HF greedy decoder


class GreedyDecoder:
    """Batched greedy decoding with a KV cache and left padding on a HF causal LM."""

    def __init__(self, model, tokenizer, cfg: Optional[DecodeConfig] = None) -> None:
        import torch

        self.torch = torch
        self.model = model
        self.tok = tokenizer
        self.cfg = cfg or DecodeConfig()
        self.vocab_limit = len(tokenizer)
        rows = model.get_output_embeddings().weight.shape[0]
        if rows < self.vocab_limit:
            raise ValueError(f"model has {rows} output rows but the tokenizer {self.vocab_limit} tokens")
        self.device = next(model.parameters()).device
        self.stop_ids = self._eos_ids()
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self._newline_cache: Dict[int, bool] = {}
        self.max_positions = getattr(model.config, "max_position_embeddings", None)

    def _eos_ids(self) -> set:
        ids = set()
        for src in (self.tok.eos_token_id, getattr(self.model.generation_config, "eos_token_id", None),
                    getattr(self.model.config, "eos_token_id", None)):
            if src is None:
                continue
            ids.update(src if isinstance(src, (list, tuple)) else [src])
        return {int(i) for i in ids if int(i) < self.vocab_limit}

    def _has_newline(self, tid: int) -> bool:
        hit = self._newline_cache.get(tid)
        if hit is None:
            hit = "\n" in self.tok.decode([tid], skip_special_tokens=False)
            self._newline_cache[tid] = hit
        return hit

    def encode(self, prompt: str) -> List[int]:
        """``<s>`` + prompt ids (no other special tokens added)."""
        ids = self.tok(prompt, add_special_tokens=False)["input_ids"]
        bos = self.tok.bos_token_id
        return ([bos] if bos is not None else []) + list(ids)

    def budget(self, length: int) -> int:
        """New tokens a prompt of ``length`` ids may get: ``max_new_tokens``, less where the model's
        positions end first (0: the prompt does not fit, see :meth:`too_long`).

        Per prompt, not per batch: a long neighbour must not shorten (or empty) another row.
        """
        if not self.max_positions:
            return self.cfg.max_new_tokens
        return max(0, min(self.cfg.max_new_tokens, self.max_positions - length))

    def too_long(self, ids: Sequence[int]) -> Optional[str]:
        """Why a prompt cannot be decoded (it leaves no position for one new token), else None."""
        if self.max_positions and len(ids) + 1 > self.max_positions:
            return (f"prompt has {len(ids)} tokens; the model has {self.max_positions} positions "
                    f"(prompt + at least 1 new token must fit)")
        return None

    def generate_ids(self, batch: Sequence[Sequence[int]]) -> List[List[int]]:
        """Greedy continuations of a batch of prompt id lists (stop tokens excluded).

        Each row stops at its own budget (:meth:`budget`); callers leave out prompts that do not
        fit (:meth:`too_long`), whose rows would otherwise come back empty.
        """
        torch = self.torch
        n = len(batch)
        width = max(len(x) for x in batch)
        input_ids = torch.full((n, width), self.pad_id, dtype=torch.long)
        attn = torch.zeros((n, width), dtype=torch.long)
        for r, ids in enumerate(batch):
            input_ids[r, width - len(ids):] = torch.tensor(ids, dtype=torch.long)
            attn[r, width - len(ids):] = 1
        input_ids, attn = input_ids.to(self.device), attn.to(self.device)
        pos = (attn.cumsum(-1) - 1).clamp_min(0)
        budgets = [self.budget(len(ids)) for ids in batch]
        max_new = max(budgets)
        out: List[List[int]] = [[] for _ in range(n)]
        done = [b == 0 for b in budgets]
        step_ids, step_pos = input_ids, pos
        from transformers import DynamicCache

        past = DynamicCache()
        with torch.inference_mode():
            for _ in range(max_new):
                logits = self.model(input_ids=step_ids, attention_mask=attn, position_ids=step_pos,
                                    past_key_values=past, use_cache=True).logits[:, -1, :]
                logits = logits.float()
                logits[:, self.vocab_limit:] = float("-inf")
                nxt = logits.argmax(dim=-1).tolist()
                for r, t in enumerate(nxt):
                    if done[r]:
                        continue
                    if t in self.stop_ids or (self.cfg.stop_at_newline and self._has_newline(t)):
                        done[r] = True
                        if t not in self.stop_ids:
                            out[r].append(t)  # may hold text before the newline; cut in decode_text
                        continue
                    out[r].append(t)
                    done[r] = len(out[r]) >= budgets[r]
                if all(done):
                    break
                step_ids = torch.tensor(nxt, dtype=torch.long, device=self.device).unsqueeze(1)
                step_pos = step_pos[:, -1:] + 1
                attn = torch.cat([attn, torch.ones((n, 1), dtype=attn.dtype, device=self.device)], dim=1)
        return out

    def decode_text(self, ids: Sequence[int]) -> str:
        """Generated ids -> text up to (not including) the first line break.

        A carriage return ends the line too: it does not stop generation (only a newline token
        does), but a hypothesis is one line of a Kaldi text file.
        """
        text = self.tok.decode(list(ids), skip_special_tokens=True)
        if self.cfg.stop_at_newline:
            text = re.split(r"[\r\n]", text, maxsplit=1)[0]
        return text

    def generate(self, prompts: Sequence[str], progress: bool = True) -> List[str]:
        """Texts for rendered prompts, batched (longest first), returned in input order; a prompt
        that does not fit the model comes back empty (see :meth:`generate_or_skip`)."""
        texts, _ = self.generate_or_skip(prompts, progress)
        return [t if t is not None else "" for t in texts]

    def generate_or_skip(self, prompts: Sequence[str],
                         progress: bool = True) -> Tuple[List[Optional[str]], Dict[int, str]]:
        """Texts for rendered prompts in input order, None for each prompt that does not fit the
        model's positions, and ``{index: reason}`` of those.

        Prompts that fit are batched among themselves only, so their texts are exactly those of a
        run without the long ones.
        """
        from tqdm import tqdm

        encoded = [self.encode(p) for p in prompts]
        too_long = {i: r for i, r in ((i, self.too_long(e)) for i, e in enumerate(encoded)) if r}
        for i, reason in too_long.items():
            logger.warning("prompt %d skipped: %s", i, reason)
        order = [i for i in range(len(prompts)) if i not in too_long]
        if self.cfg.sort_by_length:
            order.sort(key=lambda i: -len(encoded[i]))
        results: List[Optional[str]] = [None] * len(prompts)
        bs = max(1, self.cfg.batch_size)
        for start in tqdm(range(0, len(order), bs), desc="decode", unit="batch", disable=not progress):
            idx = order[start:start + bs]
            for i, ids in zip(idx, self.generate_ids([encoded[i] for i in idx])):
                results[i] = self.decode_text(ids)
        return results, too_long


def resolve_device(name: str) -> str:
    """``auto`` -> cuda when available, else cpu."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def load_model_and_tokenizer(model_dir: str, tokenizer_dir: Optional[str] = None, dtype: str = "float32",
                             device: str = "auto"):
    """A local HF causal LM (eval mode) and its tokenizer (``tokenizer_dir`` defaults to the model dir)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dir or model_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True, dtype=getattr(torch, dtype))
    model.to(resolve_device(device))
    model.eval()
    return model, tok


def model_prompt_style(model_dir: str) -> str:
    """The prompt style a model was trained with (its ``spire.json``), ``head`` when it records none."""
    from espnet_spire.lm.facts import read_facts

    style = (read_facts(model_dir) or {}).get("prompt_style")
    if style is None:
        logger.info("%s records no prompt style: using head (give --prompt_style for base LLMs)", model_dir)
        return "head"
    logger.info("prompt style %s, from %s/spire.json", style, model_dir)
    return style


# ------------------------------------------------------------------ the stage


def read_inputs(task: Task, input_file: str, keys: Optional[Sequence[str]] = None,
                num_units: Optional[int] = None) -> Tuple[List[str], Dict[str, str], List[Tuple[str, str, str]]]:
    """Keys (sorted), ``{key: source}`` (PUA units or MT text) and the skipped inputs."""
    from espnet_spire.common.kaldi_dir import sort_key
    from espnet_spire.lm.sources import UnitFormatError, read_text, read_units, to_pua

    raw = read_units(input_file) if task.speech else read_text(input_file)
    if keys is not None:
        wanted = set(keys)
        raw = {k: v for k, v in raw.items() if k in wanted}
    sources, skipped = {}, []
    for k, v in raw.items():
        if task.speech:
            try:
                v = to_pua(v, num_units)
            except UnitFormatError as e:
                skipped.append((k, "bad_units", str(e)))
                continue
        sources[k] = v.strip()
    return sorted(sources, key=sort_key), sources, skipped


def decode_task(model, tokenizer, task_name: str, input_file: str, output_dir: str,
                cfg: Optional[DecodeConfig] = None, keys: Optional[Sequence[str]] = None,
                transcripts: Optional[Dict[str, str]] = None) -> Dict[str, object]:
    """Decode one task over one input file into an ESPnet decode dir.

    Writes ``text`` (``uttid hyp``, sorted; hypotheses stripped, empty ones as a bare id),
    ``prompts.jsonl`` (the rendered prompts), ``decode_info.json`` and, for multi-turn ST without
    given ``transcripts``, ``asr_text`` with the first-turn hypotheses.
    """
    from espnet_spire.common.kaldi_dir import write_kaldi_file
    from espnet_spire.lm.token_data import write_skipped
    from espnet_spire.lm.tokenizer_extension import INFO_FILE, TokenizerInfo

    cfg = cfg or DecodeConfig()
    task = parse_task(task_name)
    info_dir = getattr(tokenizer, "name_or_path", "") or ""
    has_info = bool(info_dir) and os.path.isfile(os.path.join(info_dir, INFO_FILE))
    num_units = TokenizerInfo.load(info_dir).num_units if has_info else None
    keys_sorted, sources, skipped = read_inputs(task, input_file, keys, num_units)
    os.makedirs(output_dir, exist_ok=True)
    decoder = GreedyDecoder(model, tokenizer, cfg)

    def run(keys: List[str], prompts: List[str]) -> Dict[str, str]:
        """Hypotheses of the prompts that fit; the others are listed in ``skipped`` (too_long)."""
        texts, too_long = decoder.generate_or_skip(prompts)
        for i, reason in sorted(too_long.items()):
            logger.warning("%s: %s skipped (too_long): %s", task.name, keys[i], reason)
            skipped.append((keys[i], "too_long", reason))
        return {k: t for k, t in zip(keys, texts) if t is not None}

    t0 = time.time()
    if task.kind == "multiturn_st" and transcripts is None:
        asr_prompts = [
            render_prompt(tokenizer, build_messages(Task("asr"), sources[k], cfg.style), cfg.use_chat_template)
            for k in keys_sorted
        ]
        transcripts = run(keys_sorted, asr_prompts)
        write_kaldi_file(os.path.join(output_dir, "asr_text"), {k: v.strip() for k, v in transcripts.items()})
        keys_sorted = [k for k in keys_sorted if k in transcripts]  # no first turn, no second
    prompts = []
    for k in keys_sorted:
        tr = None if transcripts is None else transcripts.get(k, "").strip()
        prompts.append(render_prompt(tokenizer, build_messages(task, sources[k], cfg.style, tr), cfg.use_chat_template))
    hyps = run(keys_sorted, prompts)
    elapsed = time.time() - t0
    write_kaldi_file(os.path.join(output_dir, "text"), {k: h.strip() for k, h in hyps.items()})
    with open(os.path.join(output_dir, "prompts.jsonl"), "w", encoding="utf-8") as f:
        for k, p in zip(keys_sorted, prompts):
            f.write(json.dumps({"key": k, "prompt": p}, ensure_ascii=False) + "\n")
    write_skipped(os.path.join(output_dir, "skipped"), skipped)
    info = {
        "task": task.name,
        "input": os.path.abspath(input_file),
        "utterances": len(hyps),
        "skipped": len(skipped),
        "seconds": elapsed,
        "utterances_per_second": len(hyps) / elapsed if elapsed > 0 else None,
        "backend": "hf",
        "batch_size": cfg.batch_size,
        "max_new_tokens": cfg.max_new_tokens,
        "stop_at_newline": cfg.stop_at_newline,
        "dtype": cfg.dtype,
        "prompt_newline": cfg.style.newline,
        "chat_template": prompts[0].startswith("<|im_start|>") if prompts else None,
        "tokenizer_length": len(tokenizer),
    }
    write_json(os.path.join(output_dir, "decode_info.json"), info, sort_keys=False)
    logger.info("%s: %d utterances in %.1f s -> %s/text", task.name, len(hyps), elapsed, output_dir)
    return info
