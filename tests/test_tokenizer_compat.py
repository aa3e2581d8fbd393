"""Every tokenizer dir the recipe writes loads in transformers 4.57 (SpireLM's pin) and 5.x alike.

Stage 6's code builds ``tokenizer/{base,instruct}`` and ``lm_init`` from a tiny sentencepiece
base (and, for a base without sentencepiece, the added-tokens layout); the one exporter writes an
IT ``hf_model`` with the instruct tokenizer and a CPT one with the base tokenizer. The same probe
(``_tokenizer_probe.py``: plain, default and batched ids, decoding, special tokens, chat template
text and ids) runs in the transformers 4.57 environment (``tools/comet_venv``, a subprocess) and in
ours, on the compat vectors' prompts (ASR, ST, MT, multi-turn, open last turn) and text right
after special tokens; the results must be equal. Without the 4.57 environment the test skips,
under ``CI=true`` it fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import lm_fixtures as F
from _comet_helpers import ensure_comet_env
from espnet_spire.lm import prompts as P
from espnet_spire.lm import tokenizer_compat as C
from espnet_spire.lm import tokenizer_extension as T
from espnet_spire.units.dsu_format import pua

K = 50
PROBE = Path(__file__).with_name("_tokenizer_probe.py")

pytestmark = pytest.mark.integration


def _units(*idx):
    return "".join(pua(i) for i in idx)


U = _units(0, 17, 17, 3, K - 1)
ASR = P.asr_prompt(U)
TEXTS = [
    ASR,  # compat vector 12 (user content)
    P.st_prompt(U, "de"),  # 13
    P.st_prompt(U, "ko", P.PromptStyle.paper_era()),  # paper-era spacing
    P.mt_prompt("Hello world.", "en", "de"),  # 14
    P.render_chat(P.user_turn(ASR)),  # rendered IT-ASR prompt: text right after <|im_start|>, <|im_end|>
    P.render_chat(P.multiturn_st_messages(U, "hello world", "de")),  # 15
    P.render_chat([{"role": "user", "content": "P"}, {"role": "assistant", "content": "A"}], False),  # 16
    "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n Der Hund.</s><s>Le chat",
    f"Speech:{U} English: The cat sat.<EOD>Speech: {U}\nEnglish: a dog",  # CPT-style, USER_DEFINED pieces
    "Translate the following text from English to Korean.\nEnglish: Good morning.\nKorean: 좋은 아침.",
    "猫坐在垫子上。 Кошка сидит. ¿Qué? «Ça va» — naïve café",
]
CHATS = [
    [P.user_turn(ASR), True],
    [P.user_turn(P.st_prompt(U, "zh")), True],
    [P.user_turn(P.mt_prompt("Good morning.", "en", "fr")), True],
    [P.multiturn_st_messages(U, "hello world", "de"), True],
    [P.multiturn_st_messages(U, "hello world", "de", "Hallo Welt"), False],
    [[{"role": "user", "content": "P"}, {"role": "assistant", "content": "A"}], False],
]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Every tokenizer dir our stage-6 and export code writes, keyed by role."""
    from espnet_spire.lm.model_extension import extend_model_dir
    from espnet_spire.train.export import export_model_dir

    root = tmp_path_factory.mktemp("compat")
    base = F.make_base_dir(str(root / "base_model"))
    T.extend_tokenizer(base, str(root / "tokenizer"), K)
    extend_model_dir(base, str(root / "tokenizer" / "base"), str(root / "lm_init"))
    export_model_dir(root / "it" / "hf_model", str(root / "lm_init"),
                     tokenizer_dir=str(root / "tokenizer" / "instruct"))
    export_model_dir(root / "cpt" / "export" / "hf", str(root / "lm_init"))
    F.make_bpe_base(str(root / "bpe"))
    T.extend_tokenizer(str(root / "bpe"), str(root / "tokenizer_bpe"), K)
    return {
        "tokenizer/base": root / "tokenizer" / "base",
        "tokenizer/instruct": root / "tokenizer" / "instruct",
        "lm_init": root / "lm_init",
        "it/hf_model": root / "it" / "hf_model",
        "cpt/export/hf": root / "cpt" / "export" / "hf",
        "added_tokens/base": root / "tokenizer_bpe" / "base",
        "added_tokens/instruct": root / "tokenizer_bpe" / "instruct",
    }


def _run_probe(python: str, dirs, tmp_path: Path, tag: str):
    job = tmp_path / f"job_{tag}.json"
    out = tmp_path / f"out_{tag}.json"
    job.write_text(json.dumps({"dirs": [str(d) for d in dirs], "texts": TEXTS, "chats": CHATS},
                              ensure_ascii=False), encoding="utf-8")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([python, str(PROBE), str(job), str(out)], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, f"{python}: loading our tokenizer dirs failed:\n{proc.stderr[-3000:]}"
    return json.loads(out.read_text(encoding="utf-8"))


def test_portable_config_rewrites_only_what_4x_reads_differently():
    v5 = {"tokenizer_class": "LlamaTokenizer", "extra_special_tokens": ["<|im_start|>"], "is_local": True,
          "local_files_only": True, "eos_token": "<|im_end|>"}
    assert C.portable_config(v5) == {"tokenizer_class": "LlamaTokenizer", "additional_special_tokens": ["<|im_start|>"],
                                     "eos_token": "<|im_end|>", "add_bos_token": False, "add_eos_token": False,
                                     "legacy": False}
    # a dict of named extras (4.x's meaning) and non-Llama classes are left as they are
    other = {"tokenizer_class": "GPT2Tokenizer", "extra_special_tokens": {"im": "<|im|>"}}
    assert C.portable_config(other) == other
    assert C.portable_config({"tokenizer_class": "TokenizersBackend"}) == {"tokenizer_class": "PreTrainedTokenizerFast"}


@pytest.mark.slow
def test_tokenizer_dirs_load_alike_in_transformers_457_and_5(written, tmp_path):
    old_py = ensure_comet_env()  # transformers 4.57 lives in the COMET environment
    dirs = list(written.values())
    new = _run_probe(sys.executable, dirs, tmp_path, "new")
    old = _run_probe(old_py, dirs, tmp_path, "old")
    assert old["transformers"].startswith("4.57.") and new["transformers"].startswith("5.")
    for name, d in written.items():
        cfg = json.loads((d / "tokenizer_config.json").read_text(encoding="utf-8"))
        assert not isinstance(cfg.get("extra_special_tokens"), list), f"{name}: 4.57 cannot read a list there"
        a, b = old["dirs"][str(d)], new["dirs"][str(d)]
        for key in b:
            assert a[key] == b[key], f"{name}: {key} differs between transformers {old['transformers']} and " \
                                     f"{new['transformers']}:\n4.x {a[key]}\n5.x {b[key]}"
    # and the ids are SPIRE's sentencepiece tokenization (native spm, text after specials included)
    for name in ("tokenizer/base", "tokenizer/instruct", "it/hf_model"):
        d = written[name]
        got = new["dirs"][str(d)]["ids"]
        if (d / T.SPM_FILE).is_file():
            assert got == T.reference_encode(str(d), TEXTS), name
    inst = new["dirs"][str(written["it/hf_model"])]
    assert inst["has_chat_template"] and inst["chat_text"][3] == P.render_chat(CHATS[3][0])
    assert inst["ids_default"] == inst["ids"], "no <s> by default (callers add it), in both versions"
    info = T.TokenizerInfo.load(str(written["tokenizer/instruct"]))
    assert inst["ids"][0].count(info.unit_offset + 17) == 2 and inst["eos"][1] == info.im_end_id
