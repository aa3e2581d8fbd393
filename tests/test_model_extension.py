"""Stage 6b: embedding resize and the Hewitt mean initialisation."""

import json
import os

import pytest
import torch

import lm_fixtures as F
from espnet_spire.lm.model_extension import extend_embeddings, sample_mean_init
from espnet_spire.lm.tokenizer_extension import padded_size

OLD, TOK_LEN = 1000, 5057  # 4057 real new tokens -> 5120 rows, 4120 new rows


def anisotropic_model(tie=False, seed=0):
    """Tiny model whose old rows have a non-trivial mean and covariance (so the test can fail)."""
    model = F.tiny_llama(OLD, seed=seed, tie=tie)
    g = torch.Generator().manual_seed(seed + 1)
    mix = torch.randn(64, 64, generator=g) * torch.linspace(0.01, 0.2, 64)
    with torch.no_grad():
        model.get_input_embeddings().weight.copy_(torch.randn(OLD, 64, generator=g) @ mix.T + 0.3)
        if not tie:
            model.get_output_embeddings().weight.copy_(torch.randn(OLD, 64, generator=g) @ mix + -0.1)
    return model


def moments(x):
    x = x.double()
    mu = x.mean(0)
    c = x - mu
    return mu, c.T @ c / x.shape[0]


def matches(new, old, scale=1e-5, z_tol=5.0, k_tol=4.0):
    """Sample mean within z_tol standard errors per dimension; sample covariance within k_tol
    times its expected relative Frobenius error sqrt((tr S^2 + (tr S)^2) / (n tr S^2)) (Wishart)."""
    mu_o, cov_o = moments(old)
    mu_n, cov_n = moments(new)
    n = new.shape[0]
    se = (scale * torch.diagonal(cov_o) / n).sqrt()
    z = ((mu_n - mu_o) / se).abs().max().item()
    rel = (torch.linalg.norm(cov_n / scale - cov_o) / torch.linalg.norm(cov_o)).item()
    tr2, tr = torch.trace(cov_o @ cov_o).item(), torch.trace(cov_o).item()
    expected = ((tr2 + tr * tr) / (n * tr2)) ** 0.5
    return z < z_tol and rel < k_tol * expected


def test_padded_size():
    assert padded_size(37005) == 37056 and padded_size(37007) == 37056 and padded_size(64) == 64
    assert padded_size(65) == 128 and padded_size(1057) == 1088


def test_mean_init_statistics_and_old_rows():
    model = anisotropic_model()
    old_in = model.get_input_embeddings().weight.detach().clone()
    old_out = model.get_output_embeddings().weight.detach().clone()
    rec = extend_embeddings(model, TOK_LEN, "mean", seed=42)
    w_in = model.get_input_embeddings().weight.detach()
    w_out = model.get_output_embeddings().weight.detach()
    assert w_in.shape == (5120, 64) and w_out.shape == (5120, 64) and model.config.vocab_size == 5120
    assert rec.new_rows == 5120 and rec.padding_rows == 5120 - TOK_LEN and rec.first_new_row == OLD
    assert torch.equal(w_in[:OLD], old_in) and torch.equal(w_out[:OLD], old_out)  # old rows untouched
    # new rows (padding rows included) follow N(mu, 1e-5 Sigma) of their *own* matrix
    assert matches(w_in[OLD:], old_in) and matches(w_out[OLD:], old_out)
    assert not matches(w_in[OLD:], old_out)  # input and output statistics really differ
    # the tolerance can fail: a 10x covariance scale or a shifted mean is rejected
    g = torch.Generator().manual_seed(0)
    assert not matches(sample_mean_init(old_in, 4120, g, 1e-4), old_in)
    assert not matches(sample_mean_init(old_in, 4120, g) + 0.01, old_in)


def test_mean_init_is_seeded():
    a, b, c = anisotropic_model(), anisotropic_model(), anisotropic_model()
    extend_embeddings(a, TOK_LEN, "mean", seed=42)
    extend_embeddings(b, TOK_LEN, "mean", seed=42)
    extend_embeddings(c, TOK_LEN, "mean", seed=7)
    wa, wb, wc = (m.get_input_embeddings().weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)


def test_tied_embeddings():
    model = anisotropic_model(tie=True)
    old = model.get_input_embeddings().weight.detach().clone()
    rec = extend_embeddings(model, TOK_LEN, "mean", seed=1)
    assert rec.tied
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
    w = model.get_input_embeddings().weight.detach()
    assert torch.equal(w[:OLD], old) and matches(w[OLD:], old)
    out = model(torch.tensor([[1, 5, TOK_LEN - 1]])).logits
    assert out.shape[-1] == 5120


def test_new_tokens_inside_old_padding_are_reinitialised():
    """Base padded beyond its tokenizer: rows from the first new id on get the new init."""
    model = anisotropic_model()
    old = model.get_input_embeddings().weight.detach().clone()
    extend_embeddings(model, TOK_LEN, "mean", seed=3, first_new_row=900)
    w = model.get_input_embeddings().weight.detach()
    assert torch.equal(w[:900], old[:900]) and not torch.equal(w[900:OLD], old[900:OLD])
    assert matches(w[900:], old[:900])


@pytest.mark.parametrize("strategy", ["hf_default", "normal"])
def test_other_strategies(strategy):
    model = anisotropic_model()
    old = model.get_input_embeddings().weight.detach().clone()
    rec = extend_embeddings(model, 1057, strategy, seed=0, first_new_row=990)
    w = model.get_input_embeddings().weight.detach()
    assert rec.strategy == strategy and w.shape[0] == 1088 and torch.equal(w[:990], old[:990])
    assert torch.isfinite(w).all()
    if strategy == "normal":
        assert abs(w[OLD:].std().item() - model.config.initializer_range) < 0.005
    else:  # HF mean resizing puts new rows near the old mean
        assert (w[OLD:].mean(0) - old.mean(0)).abs().max() < 0.05
    with pytest.raises(ValueError, match="strategy must be one of .*got 'bogus'"):
        extend_embeddings(anisotropic_model(), 1057, "bogus")


def test_cli_writes_extension_json(tmp_path):
    from transformers import AutoModelForCausalLM

    from espnet_spire.bin import extend_model

    built = F.build_tokenizers(str(tmp_path), num_units=30)
    base = built["base"]
    import sentencepiece as spm

    n = spm.SentencePieceProcessor(model_file=os.path.join(base, "tokenizer.model")).get_piece_size()
    F.tiny_llama(n).save_pretrained(base)
    out = str(tmp_path / "extended")
    assert extend_model.main(["--model_dir", base, "--tokenizer_dir", built["tok_base"], "--output_dir", out,
                              "--init_strategy", "mean", "--seed", "42"]) == 0
    rec = json.load(open(os.path.join(out, "extension.json")))
    assert rec["strategy"] == "mean" and rec["seed"] == 42 and rec["first_new_row"] == n
    assert rec["tokenizer_length"] == n + 35 and rec["new_rows"] == padded_size(n + 35)
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.get_input_embeddings().weight.shape[0] == rec["new_rows"]
    assert os.path.isfile(os.path.join(out, "spire_tokenizer.json"))
    facts = json.load(open(os.path.join(out, "spire.json")))  # the tokenizer's facts travel on
    assert facts["kind"] == "model" and facts["num_units"] == 30 and facts["base"]["name"] == "base_model"
    assert len(facts["base"]["weights_sha256"]) == 64 and facts["embedding_init"]["strategy"] == "mean"
    assert str(tmp_path) not in json.dumps(facts)


def test_spire_sizes_on_a_32000_row_model():
    """32,000 rows + a 37,005-token tokenizer -> 37,056 rows, 51 padding rows, mean init."""
    model = F.tiny_llama(32000, seed=0)
    old = model.get_input_embeddings().weight.detach().clone()
    rec = extend_embeddings(model, 37005, "mean", seed=42)
    assert (rec.new_rows, rec.padding_rows, rec.first_new_row) == (37056, 51, 32000)
    w = model.get_input_embeddings().weight.detach()
    assert w.shape == (37056, 64) and torch.equal(w[:32000], old)
    assert matches(w[32000:], old)
