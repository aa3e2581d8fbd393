"""Stage 6b: grow the LLM's embedding matrices to the extended tokenizer and initialise new rows.

The matrices are resized to ``len(tokenizer)`` rounded up to a multiple of 64 (SPIRE: 37005 ->
37056). *Every* row from the first new token id on is (re)initialised, including the padding
rows, even where the old matrix already had rows there (a base padded beyond its tokenizer would
otherwise keep untrained rows for new tokens; LlamaFactory PR #10547).

Strategies (the effective one is written to ``extension.json``; pain point 7):

``mean``
    Hewitt (2021), as in the paper and SpireLM ``extend_model.py --init-strategy mean``: new rows
    ~ N(mu, 1e-5 * Sigma) with mu and the *biased* covariance Sigma (divided by n) of the old rows,
    computed separately for the input and the output embeddings, seeded.
``hf_default``
    What ``resize_token_embeddings`` does by itself in transformers v5 (``mean_resizing=True``;
    SpireLM's ``--init-strategy default``).
``normal``
    N(0, ``initializer_range``^2), seeded (the model's own init distribution).

Tied embeddings (one shared matrix) are initialised once, from the input-embedding statistics.
The ids >= ``len(tokenizer)`` stay in the matrix only as padding; decoding masks them.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from typing import Dict, Optional

import torch

from espnet_spire.common.fileio import write_json
from espnet_spire.lm.tokenizer_compat import save_tokenizer
from espnet_spire.lm.tokenizer_extension import padded_size

logger = logging.getLogger(__name__)

STRATEGIES = ("mean", "hf_default", "normal")
EXTENSION_FILE = "extension.json"


@dataclass
class ExtensionRecord:
    """What was done to the embeddings (``extension.json`` next to the model)."""

    strategy: str
    seed: int
    covariance_scale: float
    old_rows: int
    first_new_row: int
    tokenizer_length: int
    new_rows: int
    pad_to_multiple_of: int
    padding_rows: int
    tied: bool
    base_model: str = ""
    tokenizer_dir: str = ""
    dtype: str = "float32"
    transformers_version: str = ""
    created: str = ""
    extra: Dict[str, object] = field(default_factory=dict)


def _sqrt_psd(cov: torch.Tensor) -> torch.Tensor:
    """A matrix L with L L^T = cov; Cholesky with a tiny jitter, eigen-decomposition as fallback.

    The empirical covariance of real embeddings is full rank, but tiny or degenerate matrices (n <
    d, duplicated rows) are only positive semi-definite.
    """
    d = cov.shape[0]
    jitter = 1e-12 * float(torch.diagonal(cov).mean().clamp_min(1e-30))
    try:
        return torch.linalg.cholesky(cov + jitter * torch.eye(d, dtype=cov.dtype))
    except RuntimeError:
        evals, evecs = torch.linalg.eigh(cov)
        return evecs * evals.clamp_min(0).sqrt()


def sample_mean_init(old: torch.Tensor, n_new: int, generator: torch.Generator, scale: float = 1e-5) -> torch.Tensor:
    """``n_new`` rows ~ N(mean(old), scale * biased_cov(old)), computed in float64."""
    x = old.detach().to(torch.float64)
    mu = x.mean(dim=0)
    centered = x - mu
    cov = centered.T @ centered / x.shape[0]  # biased (divide by n), as SpireLM/Hewitt
    chol = _sqrt_psd(cov)
    z = torch.randn(n_new, x.shape[1], generator=generator, dtype=torch.float64)
    rows = mu + (scale ** 0.5) * (z @ chol.T)
    return rows.to(old.dtype)


def extend_embeddings(model, tokenizer_length: int, strategy: str = "mean", seed: int = 42,
                      first_new_row: Optional[int] = None, pad_to_multiple_of: int = 64,
                      covariance_scale: float = 1e-5) -> ExtensionRecord:
    """Resize ``model``'s embeddings in place and initialise rows ``first_new_row..`` (see module doc).

    ``first_new_row`` is the size of the *base* tokenizer (the first id that is new); it defaults
    to the old number of rows.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    in_emb = model.get_input_embeddings()
    old_rows = in_emb.weight.shape[0]
    first_new = old_rows if first_new_row is None else int(first_new_row)
    if not 0 < first_new <= old_rows:
        raise ValueError(f"first_new_row {first_new} must be in (0, {old_rows}] (old embedding rows)")
    if tokenizer_length < first_new:
        raise ValueError(f"tokenizer length {tokenizer_length} is smaller than the base vocabulary {first_new}")
    target = padded_size(tokenizer_length, pad_to_multiple_of)
    out_emb = model.get_output_embeddings()
    tied = out_emb is not None and out_emb.weight is in_emb.weight

    old_in = in_emb.weight.detach()[:first_new].clone()
    old_out = out_emb.weight.detach()[:first_new].clone() if (out_emb is not None and not tied) else None

    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # hf_default / normal draw from the global generator
    model.resize_token_embeddings(target, pad_to_multiple_of=None, mean_resizing=(strategy == "hf_default"))
    in_emb = model.get_input_embeddings()
    out_emb = model.get_output_embeddings()
    tied = out_emb is not None and out_emb.weight is in_emb.weight
    n_new = target - first_new
    with torch.no_grad():
        if strategy == "mean":
            in_emb.weight[first_new:] = sample_mean_init(old_in, n_new, gen, covariance_scale)
            if out_emb is not None and not tied:
                out_emb.weight[first_new:] = sample_mean_init(old_out, n_new, gen, covariance_scale)
        elif strategy == "normal":
            std = float(getattr(model.config, "initializer_range", 0.02))
            noise = torch.randn(n_new, in_emb.weight.shape[1], generator=gen)
            in_emb.weight[first_new:] = noise.to(in_emb.weight.dtype) * std
            if out_emb is not None and not tied:
                noise = torch.randn(n_new, out_emb.weight.shape[1], generator=gen)
                out_emb.weight[first_new:] = (noise * std).to(out_emb.weight.dtype)
        elif first_new < old_rows:
            # hf_default only initialises rows beyond the old matrix; rows for new tokens that sat in
            # the old padding get HF's mean as well, so no new token keeps an untrained row.
            in_emb.weight[first_new:old_rows] = old_in.mean(0)
            if out_emb is not None and not tied:
                out_emb.weight[first_new:old_rows] = old_out.mean(0)
    model.config.vocab_size = target
    import transformers

    rec = ExtensionRecord(
        strategy=strategy,
        seed=seed,
        covariance_scale=covariance_scale,
        old_rows=old_rows,
        first_new_row=first_new,
        tokenizer_length=tokenizer_length,
        new_rows=target,
        pad_to_multiple_of=pad_to_multiple_of,
        padding_rows=target - tokenizer_length,
        tied=tied,
        dtype=str(in_emb.weight.dtype).replace("torch.", ""),
        transformers_version=transformers.__version__,
        created=time.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    logger.info("embeddings %d -> %d rows (tokenizer %d, %d padding), rows %d.. initialised with %s (seed %d)%s",
                old_rows, target, tokenizer_length, rec.padding_rows, first_new, strategy, seed,
                ", tied" if tied else "")
    return rec


def model_facts(tokenizer_facts: Dict[str, object], model_dir: str, rec: ExtensionRecord) -> Dict[str, object]:
    """``spire.json`` of the extended model: the tokenizer's facts, the base model's content hashes
    (so a later stage can tell which base it derives from without its path) and the row init."""
    from espnet_spire.lm.facts import dir_name
    from espnet_spire.units.provenance import model_fingerprint

    facts = dict(tokenizer_facts)
    fingerprint = model_fingerprint(os.path.abspath(model_dir))
    facts["kind"] = "model"
    facts["base"] = {**dict(facts.get("base") or {}), "name": dir_name(model_dir),
                     "config_sha256": fingerprint["config_sha256"], "weights_sha256": fingerprint["weights_sha256"]}
    facts["embedding_init"] = {"strategy": rec.strategy, "seed": rec.seed, "rows": rec.new_rows}
    return facts


def extend_model_dir(model_dir: str, tokenizer_dir: str, output_dir: str, strategy: str = "mean", seed: int = 42,
                     first_new_row: Optional[int] = None, pad_to_multiple_of: int = 64, dtype: str = "float32",
                     covariance_scale: float = 1e-5) -> ExtensionRecord:
    """Load a local HF causal LM, extend it for ``tokenizer_dir``, save model + tokenizer + extension.json.

    ``first_new_row`` defaults to the base vocabulary size recorded by stage 6a
    (``spire_tokenizer.json``), falling back to the old number of rows.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from espnet_spire.lm.facts import read_facts, write_facts
    from espnet_spire.lm.tokenizer_extension import INFO_FILE, TokenizerInfo

    tok = AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)
    if first_new_row is None and os.path.isfile(os.path.join(tokenizer_dir, INFO_FILE)):
        first_new_row = TokenizerInfo.load(tokenizer_dir).base_vocab_size
    torch_dtype = getattr(torch, dtype)
    model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True, dtype=torch_dtype)
    rec = extend_embeddings(model, len(tok), strategy, seed, first_new_row, pad_to_multiple_of, covariance_scale)
    rec.base_model = os.path.abspath(model_dir)
    rec.tokenizer_dir = os.path.abspath(tokenizer_dir)
    rec.dtype = dtype
    model.config.eos_token_id = tok.eos_token_id
    model.config.pad_token_id = tok.pad_token_id
    model.config.bos_token_id = tok.bos_token_id
    if model.generation_config is not None:
        model.generation_config.eos_token_id = tok.eos_token_id
        model.generation_config.pad_token_id = tok.pad_token_id
        model.generation_config.bos_token_id = tok.bos_token_id
    os.makedirs(output_dir, exist_ok=True)
    model.save_pretrained(output_dir)
    save_tokenizer(tok, output_dir)
    if os.path.isfile(os.path.join(tokenizer_dir, INFO_FILE)):
        shutil.copyfile(os.path.join(tokenizer_dir, INFO_FILE), os.path.join(output_dir, INFO_FILE))
    facts = read_facts(tokenizer_dir)
    if facts is not None:
        write_facts(output_dir, model_facts(facts, model_dir, rec))
    write_json(os.path.join(output_dir, EXTENSION_FILE), asdict(rec), sort_keys=False, ensure_ascii=True)
    return rec
