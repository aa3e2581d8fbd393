"""ESPnet model wrapper around a Hugging Face causal LM (the SPIRE CPT / IT model).

The wrapped model is an ``AutoModelForCausalLM`` loaded from a local directory (already extended
with unit tokens).  :meth:`SpireLMModel.forward` follows ESPnet's contract and returns
``(loss, stats, weight)``:

* ``loss``: token-level cross entropy, averaged over the *target* tokens of the batch.  Token ``t``
  is a target when ``loss_mask[t] == 1``; it is predicted from positions ``< t`` (the usual
  one-step shift), so ``loss_mask[0]`` can never be used (there is no context to predict it from).
  Padding (``attention_mask == 0``) is never a target.
* ``stats``: ``loss``, ``acc`` (next-token accuracy on the targets) and ``ntokens``.
* ``weight``: the number of target tokens, so that ESPnet's reporter and its distributed
  averaging weight every batch by its tokens (not by its number of sequences).

By default (``loss_impl="selective"``) the output projection is applied to the target positions
only; for instruction tuning, where most tokens are prompt, this saves most of the
``batch x length x vocabulary`` logits tensor.  ``loss_impl="full"`` runs the model's own
``forward`` (use it for architectures whose head does more than a linear projection).
"""

from __future__ import annotations

import logging
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from espnet2.torch_utils.device_funcs import force_gatherable
from espnet2.train.abs_espnet_model import AbsESPnetModel

LOSS_IMPLS = ("selective", "full")


def _attention_from_lengths(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    positions = torch.arange(max_len, device=lengths.device)
    return (positions[None, :] < lengths[:, None]).long()


class SpireLMModel(AbsESPnetModel):
    """A causal LM trained with a per-token loss mask.

    Args:
        lm: a Hugging Face ``PreTrainedModel`` with a causal-LM head.
        loss_impl: ``"selective"`` (project only target positions) or ``"full"``.
        check_token_range: raise a clear error when an input id is outside the embedding table.
    """

    def __init__(
        self,
        lm: torch.nn.Module,
        loss_impl: str = "selective",
        check_token_range: bool = True,
    ):
        super().__init__()
        if loss_impl not in LOSS_IMPLS:
            raise ValueError(f"loss_impl must be one of {LOSS_IMPLS}, got {loss_impl!r}")
        self.lm = lm
        self.loss_impl = loss_impl
        self.check_token_range = check_token_range
        cfg = getattr(lm, "config", None)
        if loss_impl == "selective" and cfg is not None and (
            getattr(cfg, "final_logit_softcapping", None) or getattr(cfg, "logit_scale", None)
        ):
            logging.warning(
                "The model's head post-processes logits (softcapping/scaling); "
                "using loss_impl='full'."
            )
            self.loss_impl = "full"

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_pretrained(
        cls,
        model_dir: str,
        torch_dtype: str = "auto",
        attn_implementation: Optional[str] = None,
        gradient_checkpointing: bool = False,
        loss_impl: str = "selective",
        check_token_range: bool = True,
    ) -> "SpireLMModel":
        """Load ``AutoModelForCausalLM`` from a local directory (never from a hub)."""
        from transformers import AutoModelForCausalLM

        kwargs = dict(local_files_only=True)
        if torch_dtype not in (None, "auto"):
            kwargs["dtype"] = getattr(torch, torch_dtype)
        else:
            kwargs["dtype"] = "auto"
        if attn_implementation:
            kwargs["attn_implementation"] = attn_implementation
        lm = AutoModelForCausalLM.from_pretrained(model_dir, **kwargs)
        lm.config.use_cache = False
        if gradient_checkpointing:
            kwargs = {"use_reentrant": False}
            if hasattr(lm, "activation_checkpointing_enable"):  # transformers >= 5.2x
                lm.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
            else:
                lm.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
        return cls(lm, loss_impl=loss_impl, check_token_range=check_token_range)

    @property
    def vocab_size(self) -> int:
        return int(self.lm.get_input_embeddings().weight.shape[0])

    # ------------------------------------------------------------------ forward
    def _hidden_and_head(self, input_ids, attention_mask):
        """Run the decoder body only; returns (hidden states, output projection)."""
        body = getattr(self.lm, "base_model", None)
        head = self.lm.get_output_embeddings()
        if body is None or body is self.lm or head is None:
            return None, None
        out = body(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
        hidden = out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]
        return hidden, head

    def forward(
        self,
        input_ids: torch.Tensor,
        loss_mask: torch.Tensor,
        input_ids_lengths: Optional[torch.Tensor] = None,
        loss_mask_lengths: Optional[torch.Tensor] = None,
        attention_mask: Optional[torch.Tensor] = None,
        **kwargs,
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor], torch.Tensor]:
        """Masked next-token cross entropy.

        Args:
            input_ids: (B, T) token ids, right-padded.
            loss_mask: (B, T) 1 where the token is a prediction target.
            input_ids_lengths: (B,) real lengths (used when ``attention_mask`` is absent).
            attention_mask: (B, T) 1 on real tokens.
        """
        if attention_mask is None:
            if input_ids_lengths is None:
                attention_mask = torch.ones_like(input_ids)
            else:
                attention_mask = _attention_from_lengths(input_ids_lengths, input_ids.size(1))
        attention_mask = attention_mask.to(input_ids.device).long()
        if loss_mask.shape != input_ids.shape:
            raise ValueError(
                f"loss_mask {tuple(loss_mask.shape)} and input_ids "
                f"{tuple(input_ids.shape)} differ in shape"
            )
        if self.check_token_range:
            vmax = int(input_ids.max()) if input_ids.numel() else 0
            vmin = int(input_ids.min()) if input_ids.numel() else 0
            if vmax >= self.vocab_size or vmin < 0:
                raise ValueError(
                    f"token id out of range [0, {self.vocab_size}): min={vmin} max={vmax}"
                )

        target_mask = (loss_mask[:, 1:] > 0) & (attention_mask[:, 1:] > 0)
        targets = input_ids[:, 1:][target_mask]
        # Without padding (e.g. packed CPT batches) pass no mask: transformers then uses the
        # plain causal kernel instead of materialising a (B, 1, T, T) mask (much faster on CPU).
        model_mask = None if bool(attention_mask.all()) else attention_mask

        if self.loss_impl == "selective":
            hidden, head = self._hidden_and_head(input_ids, model_mask)
        else:
            hidden, head = None, None
        if hidden is not None:
            logits = head(hidden[:, :-1][target_mask])
        else:
            out = self.lm(input_ids=input_ids, attention_mask=model_mask, use_cache=False)
            logits = out.logits[:, :-1][target_mask]

        ntokens = targets.numel()
        logits = logits.float()
        if ntokens > 0:
            loss = F.cross_entropy(logits, targets, reduction="sum") / ntokens
            with torch.no_grad():
                acc = (logits.argmax(dim=-1) == targets).float().mean()
        else:
            # Keep the graph connected (every rank must run backward under DDP/ZeRO).
            loss = logits.sum() * 0.0
            acc = torch.zeros((), device=loss.device)

        weight = torch.tensor(float(ntokens), device=loss.device)
        stats = dict(loss=loss.detach(), acc=acc.detach(), ntokens=weight.clone())
        loss, stats, weight = force_gatherable((loss, stats, weight), loss.device)
        return loss, stats, weight

    def collect_feats(self, **batch: torch.Tensor) -> Dict[str, torch.Tensor]:
        """No features to collect: ``--collect_stats`` only writes the shape files."""
        return {}
