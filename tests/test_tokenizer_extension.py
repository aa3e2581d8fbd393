"""Stage 6a: extended tokenizer ids (compat vector 11), HF vs native sentencepiece, text policy."""

import json
import os

import numpy as np
import pytest

import lm_fixtures as F
from espnet_spire.lm import tokenizer_extension as T
from espnet_spire.lm.prompts import asr_prompt, mt_prompt, render_chat, st_prompt, user_turn
from espnet_spire.lm.text_policy import TextPolicy, TextPolicyError
from espnet_spire.units.dsu_format import pua

K = 300  # units in the small setup


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("tok"))
    return F.build_tokenizers(root, num_units=K)


@pytest.fixture(scope="module")
def toks(built):
    from transformers import AutoTokenizer

    return (AutoTokenizer.from_pretrained(built["tok_base"]), AutoTokenizer.from_pretrained(built["tok_instruct"]))


def test_small_base_id_layout(built, toks):
    base, inst = toks
    import sentencepiece as spm

    n = spm.SentencePieceProcessor(model_file=os.path.join(built["base"], "tokenizer.model")).get_piece_size()
    vocab = base.get_vocab()
    assert [vocab[s] for s in T.SPIRE_SPECIALS] == list(range(n, n + 5))
    for i in (0, 1, 17, K - 1):
        assert vocab[pua(i)] == n + 5 + i
    assert len(base) == n + 5 + K
    assert base.eos_token == "</s>" and base.pad_token == "</s>" and base.pad_token_id == 2 == base.eos_token_id
    assert inst.eos_token == "<|im_end|>" and inst.eos_token_id == n + 5 + K
    assert inst.convert_tokens_to_ids("<|im_start|>") == n + 6 + K
    assert len(inst) == n + 7 + K and inst.pad_token_id == 2
    info = T.TokenizerInfo.load(built["tok_instruct"])
    assert (info.unit_offset, info.num_units, info.im_end_id, info.im_start_id) == (n + 5, K, n + 5 + K, n + 6 + K)
    assert info.unit_id(3) == n + 8
    # the specials are ordinary pieces, not HF special tokens (as in SPIRE's slow tokenizer)
    assert "<CLS>" not in base.all_special_tokens
    assert base.decode([vocab["<SEP>"]], skip_special_tokens=True) == "<SEP>"


def test_spm_files_and_scores(built):
    proto = T.load_spm_proto(os.path.join(built["tokenizer"], "spm.model"))
    base = T.load_spm_proto(os.path.join(built["base"], "tokenizer.model"))
    n = len(base.pieces)
    last = base.pieces[-1].score
    added = proto.pieces[n:]
    assert [p.piece for p in added[:5]] == list(T.SPIRE_SPECIALS)
    assert all(p.type == 4 for p in added[:5])  # USER_DEFINED
    assert all(p.type == 1 for p in added[5:])  # NORMAL
    assert [p.score for p in added[:3]] == [last - 1, last - 2, last - 3]
    assert [p.piece for p in added[5:]] == [pua(i) for i in range(K)]
    with open(os.path.join(built["tokenizer"], "spm.vocab"), encoding="utf-8") as f:
        lines = f.read().splitlines()
    assert lines[n] == f"<CLS>\t{int(last - 1)}" and len(lines) == n + 5 + K


@pytest.mark.slow
def test_compat_vector_11_ids_for_a_32000_piece_base(tmp_path, built):
    """Padding the small spm to Llama-2's 32,000 pieces gives SPIRE's ids exactly."""
    from transformers import AutoTokenizer

    base32 = str(tmp_path / "base32")
    F.pad_spm_to(os.path.join(built["base"], "tokenizer.model"), base32, 32000)
    b, i = T.extend_tokenizer(base32, str(tmp_path / "tok32"), 5000)
    assert b.specials == {"<CLS>": 32000, "<EOD>": 32001, "<MASK>": 32002, "<PAD>": 32003, "<SEP>": 32004}
    assert b.unit_offset == 32005 and b.length == 37005
    assert (i.length, i.im_end_id, i.im_start_id, i.eos_token_id, i.pad_token_id) == (37007, 37005, 37006, 37005, 2)
    assert T.padded_size(b.length) == 37056 and T.padded_size(i.length) == 37056
    tok = AutoTokenizer.from_pretrained(str(tmp_path / "tok32" / "instruct"))
    units = "".join(pua(j) for j in (0, 1, 4998, 4999))
    assert F.ids_of(tok, units)[1:] == [32005, 32006, 37003, 37004]  # after the dummy-prefix "▁"
    ids = F.ids_of(tok, "Speech: " + units)
    assert ids[-4:] == [32005, 32006, 37003, 37004]
    assert tok.convert_ids_to_tokens(ids[-5]) == "▁"
    assert F.ids_of(tok, "<|im_end|><|im_start|>") == [37005, 37006]


def test_unit_strings_encode_one_id_per_unit(toks):
    base, _ = toks
    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 50, 200):
        u = F.random_units(rng, n, K)
        ids = F.ids_of(base, u)
        assert ids[0] == base.convert_tokens_to_ids("▁") and len(ids) == n + 1  # dummy-prefix space
        assert ids[1:] == [base.convert_tokens_to_ids(c) for c in u]
        mid = F.ids_of(base, "Speech: " + u + "\nEnglish:")
        unit_ids = [i for i in mid if i >= base.convert_tokens_to_ids(pua(0))]
        assert len(unit_ids) == n
        assert base.convert_ids_to_tokens(mid[mid.index(unit_ids[0]) - 1]) == "▁"  # a lone "▁" before the block
        assert base.decode(F.ids_of(base, "Speech: " + u)) == "Speech: " + u


@pytest.mark.parametrize("lang", list(F.NTREX_FILES))
def test_hf_equals_native_sentencepiece_in_ten_languages(built, lang):
    """Slow (native spm, SPIRE's reference) and fast (HF tokenizers) give identical ids."""
    rng = np.random.default_rng(hash(lang) % 1000)
    sents = F.ntrex_lines(lang, 6, start=40)
    texts = []
    for s in sents:
        u = F.random_units(rng, int(rng.integers(1, 60)), K)
        texts += [
            f"{s} {u}",
            f"{u}{s}",
            asr_prompt(u) + " " + s,
            f"Speech:{u} English: {s}",
            render_chat([{"role": "user", "content": st_prompt(u, "de")}, {"role": "assistant", "content": s}]),
            render_chat(user_turn(mt_prompt(s, lang if lang != "en" else "de", "en"))),
            f"{s}\n{u}\n\n{s}  {u}<SEP>{s}",
        ]
    for d in ("tok_base", "tok_instruct"):
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(built[d])
        refs = T.reference_encode(built[d], texts)
        for text, ref in zip(texts, refs):
            assert F.ids_of(tok, text) == ref, (d, text[:60])
        assert T.check_consistency(built[d], texts) == []


def test_chat_tokens_split_in_instruct(toks):
    _, inst = toks
    ids = F.ids_of(inst, render_chat(user_turn("hi")))
    assert ids[0] == inst.convert_tokens_to_ids("<|im_start|>")
    assert inst.convert_tokens_to_ids("<|im_end|>") in ids
    assert inst.apply_chat_template(user_turn("hi"), tokenize=False, add_generation_prompt=True) == \
        render_chat(user_turn("hi"))


def test_refuses_base_that_already_has_units(tmp_path, built):
    proto = T.load_spm_proto(os.path.join(built["base"], "tokenizer.model"))
    p = proto.pieces.add()
    p.piece = pua(3)
    with pytest.raises(ValueError, match="unit character"):
        T.extend_spm_proto(proto, 10)
    with pytest.raises(ValueError, match=r"num_units must be in \[1, 65534\], got 0"):
        T.extend_spm_proto(T.load_spm_proto(os.path.join(built["base"], "tokenizer.model")), 0)


def test_added_tokens_path_for_bpe_json_tokenizers(tmp_path):
    """A tokenizer.json BPE base (no sentencepiece) gets specials and units as added tokens."""
    from transformers import AutoTokenizer

    n = len(F.make_bpe_base(str(tmp_path / "bpe")))
    b, i = T.extend_tokenizer(str(tmp_path / "bpe"), str(tmp_path / "out"), 40)
    assert b.method == "added_tokens" and b.specials["<CLS>"] == n and b.unit_offset == n + 5
    assert (i.im_end_id, i.im_start_id, i.length) == (n + 45, n + 46, n + 47)
    tok = AutoTokenizer.from_pretrained(str(tmp_path / "out" / "instruct"))
    u = "".join(pua(j) for j in (0, 5, 5, 39))
    ids = F.ids_of(tok, f"Speech: {u}\nEnglish: the cat")
    assert [x for x in ids if n + 5 <= x < n + 45] == [n + 5, n + 10, n + 10, n + 44]
    assert tok.decode(F.ids_of(tok, f"Speech: {u}\nEnglish:")) == f"Speech: {u}\nEnglish:"
    rendered = tok.apply_chat_template(user_turn("x"), tokenize=False, add_generation_prompt=True)
    assert rendered == render_chat(user_turn("x"))


def test_text_policy():
    pol = TextPolicy(num_units=K)
    assert pol.check("Hello world. 你好", "u1") == "Hello world. 你好"
    with pytest.raises(TextPolicyError, match="'utt7'.*unit_chars_in_text"):
        pol.check("hello " + pua(3), "utt7")
    with pytest.raises(TextPolicyError, match="extra_id_in_text"):
        pol.check("hello <extra_id_17> there", "u2")
    with pytest.raises(TextPolicyError, match="control_string_in_text"):
        pol.check("a <|im_end|> b", "u3")
    # only the unit range is rejected when K is known; the whole PUA-A plane when it is not
    assert pol.violations(pua(K + 5)) == []
    assert TextPolicy().violations(pua(K + 5))[0][0] == "unit_chars_in_text"
    assert TextPolicy(reject_extra_id=False).violations("<extra_id_1>") == []


def test_cli(tmp_path, built):
    from espnet_spire.bin import extend_tokenizer

    out = str(tmp_path / "cli")
    assert extend_tokenizer.main(["--base_dir", built["base"], "--output_dir", out, "--num_units", "20",
                                  "--specials", "<CLS>,<SEP>"]) == 0
    info = json.load(open(os.path.join(out, "base", T.INFO_FILE)))
    assert list(info["specials"]) == ["<CLS>", "<SEP>"] and info["unit_offset"] == info["base_vocab_size"] + 2


def test_instruct_template_open_last_turn(toks):
    """Compat vector 16 through the saved tokenizer's own template."""
    _, inst = toks
    msgs = [{"role": "user", "content": "P"}, {"role": "assistant", "content": "A"}]
    assert inst.apply_chat_template(msgs, tokenize=False, add_generation_prompt=False) == \
        "<|im_start|>user\nP<|im_end|>\n<|im_start|>assistant\nA"
    assert inst.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True) == \
        "<|im_start|>user\nP<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n"


def test_known_difference_leading_whitespace(built, toks):
    """Documented limit: an input that *starts* with a space gets one "▁" from HF (Metaspace) but
    two from sentencepiece (dummy prefix + the space). Builders strip their text, so it never
    arises; this test notices if a transformers upgrade changes the behaviour."""
    base, _ = toks
    u = pua(0) + pua(1)
    hf = F.ids_of(base, " " + u)
    ref = T.reference_encode(built["tok_base"], [" " + u])[0]
    space = base.convert_tokens_to_ids("▁")
    assert hf == [space] + hf[1:] and ref == [space, space] + hf[1:]
    with pytest.raises(ValueError, match="check texts must not start with whitespace"):
        T.check_consistency(built["tok_base"], [" " + u])
