"""The files `AutoTokenizer.from_pretrained(DIR)` reads: tokenizer.json, tokenizer_config.json and
special_tokens_map.json, giving a fast tokenizer that encodes and decodes as tinylm does."""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import Tokenizer

from tinylm.data.tokenizer import tokenizer_kind
from tinylm.data.vocab import SPECIAL_TOKENS

PAD, UNK, _BOS, EOS, MASK = SPECIAL_TOKENS


def hf_tokenizer_json(tok: Tokenizer) -> dict:
    """tinylm's tokenizer.json as transformers should read it. tinylm adds no special tokens
    when it encodes (no post-processor), and for byte-level BPE its fill-mask reads " [MASK]"
    as the mask alone (words carry their leading space, like " be"): the mask token strips the
    whitespace on its left there, as RoBERTa's <mask> does."""
    spec = json.loads(tok.to_str())
    strip = tokenizer_kind(tok) == "bpe"
    for added in spec.get("added_tokens", []):
        if added.get("content") == MASK:
            added["lstrip"] = strip
    return spec


def special_tokens(tok: Tokenizer, causal: bool) -> dict:
    """The named special tokens; a causal model's documents start after an [EOS], so [EOS] is
    also its bos token (as GPT-2's <|endoftext|>)."""
    mask: str | dict = MASK
    if tokenizer_kind(tok) == "bpe":
        mask = {"content": MASK, "lstrip": True, "rstrip": False, "normalized": False}
        mask.update({"single_word": False, "special": True})
    named = {"pad_token": PAD, "unk_token": UNK, "eos_token": EOS, "mask_token": mask}
    if causal:
        named["bos_token"] = EOS
    return named


def write_tokenizer_files(tok: Tokenizer, dest: Path, block_size: int, causal: bool) -> None:
    """Write the three tokenizer files for a model of `block_size` positions into `dest`."""
    named = special_tokens(tok, causal)
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": block_size,
        # tinylm decodes with the tokenizer's own decoder only: no extra space clean-up
        "clean_up_tokenization_spaces": False,
        **named,
    }
    files = {
        "tokenizer.json": hf_tokenizer_json(tok),
        "tokenizer_config.json": config,
        "special_tokens_map.json": named,
    }
    for name, data in files.items():
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        (dest / name).write_text(text, encoding="utf-8")
