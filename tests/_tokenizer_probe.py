"""Run in any Python environment with transformers (4.57 or 5.x): the ids a user gets from each dir.

Usage: ``python _tokenizer_probe.py JOB.json OUT.json``; JOB holds ``dirs``, ``texts`` and
``chats`` (``[messages, add_generation_prompt]``). It imports only transformers, so that the same
calls run in the transformers 4.57 environment (``tools/comet_venv``) and in ours.
"""

import json
import os
import sys

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import transformers  # noqa: E402
from transformers import AutoTokenizer  # noqa: E402


def _ids(x):
    """``apply_chat_template(tokenize=True)`` gives a list in 4.x and a BatchEncoding in 5.x."""
    return list(x["input_ids"]) if hasattr(x, "keys") else list(x)


def probe(directory, texts, chats):
    tok = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    plain = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    out = {
        "len": len(tok),
        "eos": [tok.eos_token, tok.eos_token_id],
        "pad": [tok.pad_token, tok.pad_token_id],
        "bos": [tok.bos_token, tok.bos_token_id],
        "special_tokens": sorted(str(t) for t in tok.all_special_tokens),
        "ids": plain,
        "ids_default": [tok(t)["input_ids"] for t in texts],
        "batch": tok(texts, add_special_tokens=False)["input_ids"],
        "decode": [tok.decode(i) for i in plain],
        "decode_skip_special": [tok.decode(i, skip_special_tokens=True) for i in plain],
        "has_chat_template": tok.chat_template is not None,
    }
    if tok.chat_template is not None:
        out["chat_text"] = [tok.apply_chat_template(m, tokenize=False, add_generation_prompt=g) for m, g in chats]
        out["chat_ids"] = [_ids(tok.apply_chat_template(m, tokenize=True, add_generation_prompt=g)) for m, g in chats]
    return out


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        job = json.load(f)
    result = {"transformers": transformers.__version__, "dirs": {}}
    for d in job["dirs"]:
        result["dirs"][d] = probe(d, job["texts"], job["chats"])
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(result, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
