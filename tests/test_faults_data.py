"""Fault injection, issue #15 (silent data loss or corruption): each test feeds the bad input or
the interrupted/changed run that once lost data while every stage reported success, and checks
that the loss is now either avoided or stated (a reason in ``skipped``, a non-zero exit)."""

from __future__ import annotations

import os

import numpy as np
import pytest

import lm_fixtures as F

pytestmark = pytest.mark.fault

K = 50
MAX_POSITIONS = 160


# ------------------------------------------------------------------ 1: an over-long decode prompt


@pytest.fixture(scope="module")
def short_model(tmp_path_factory):
    """A tiny instruct model whose position table ends at MAX_POSITIONS (units of 3-40 fit, 200 do not)."""
    from espnet_spire.lm.decode import load_model_and_tokenizer

    root = str(tmp_path_factory.mktemp("faults_decode"))
    built = F.build_tokenizers(root, num_units=K)
    model_dir = F.save_tiny_model(os.path.join(root, "model"), built["tok_instruct"], seed=11)
    model, tok = load_model_and_tokenizer(model_dir, device="cpu")
    model.config.max_position_embeddings = MAX_POSITIONS
    return model, tok, root


def _units_file(path: str, lengths) -> str:
    rng = np.random.default_rng(5)
    with open(path, "w", encoding="utf-8") as f:
        for i, n in enumerate(lengths):
            f.write(f"u{i:02d} {F.random_units(rng, n, K)}\n")
    return path


def test_overlong_prompt_is_skipped_alone(short_model, tmp_path):
    """One prompt beyond the model's positions used to empty every hypothesis of its batch."""
    from espnet_spire.lm.decode import DecodeConfig, decode_task

    model, tok, _ = short_model
    lengths = [12, 30, 400, 8, 25, 17]  # u02 cannot fit: 400 units > 160 positions
    with_long = _units_file(str(tmp_path / "units_all"), lengths)
    cfg = DecodeConfig(batch_size=8, max_new_tokens=12)  # one batch holds them all
    info = decode_task(model, tok, "asr", with_long, str(tmp_path / "all"), cfg)
    # the same utterances without the long one
    rows = open(with_long, encoding="utf-8").read().splitlines()
    without = str(tmp_path / "units_short")
    with open(without, "w", encoding="utf-8") as f:
        f.write("".join(r + "\n" for r in rows if not r.startswith("u02 ")))
    decode_task(model, tok, "asr", without, str(tmp_path / "short"), cfg)

    text = (tmp_path / "all" / "text").read_text(encoding="utf-8")
    assert text == (tmp_path / "short" / "text").read_text(encoding="utf-8")
    hyps = dict((line.split(" ", 1) + [""])[:2] for line in text.splitlines())
    assert "u02" not in hyps and len(hyps) == 5 == info["utterances"]
    assert sum(len(h) for h in hyps.values()) > 0  # the batch was really decoded
    skipped = (tmp_path / "all" / "skipped").read_text(encoding="utf-8").splitlines()
    assert len(skipped) == 1 and skipped[0].startswith("u02 too_long prompt has ")
    assert f"the model has {MAX_POSITIONS} positions" in skipped[0]
    assert info["skipped"] == 1


def test_budget_is_per_prompt(short_model):
    """A prompt near the end of the positions limits its own row only, not its neighbours'."""
    from espnet_spire.lm import prompts as P
    from espnet_spire.lm.decode import DecodeConfig, GreedyDecoder

    model, tok, _ = short_model
    rng = np.random.default_rng(3)
    dec = GreedyDecoder(model, tok, DecodeConfig(batch_size=2, max_new_tokens=20, stop_at_newline=False))
    short = dec.encode(P.render_chat(P.user_turn(P.asr_prompt(F.random_units(rng, 5, K)))))
    near = list(short)
    while len(near) < MAX_POSITIONS - 3:
        near.insert(1, short[1])
    assert dec.budget(len(near)) == 3 and dec.budget(len(short)) == 20
    assert dec.too_long(near) is None and dec.too_long(near + [1] * 3) is not None
    alone = dec.generate_ids([short])[0]
    assert len(alone) > 3  # the test needs a row longer than the neighbour's budget
    both = dec.generate_ids([short, near])
    assert both[0] == alone and len(both[1]) <= 3
