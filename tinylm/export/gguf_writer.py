"""A causal tinylm model with a byte-level BPE tokenizer as one GGUF file for llama.cpp: the
`gptneox` architecture (sequential residual), float32 weights, the `gpt2` tokenizer with merges.

llama.cpp's gptneox reads the fused qkv rows as [all queries | all keys | all values] (its
converter re-lays GPT-NeoX's per-head rows into that order), which is tinylm's own layout.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer

from tinylm.data.tokenizer import tokenizer_kind
from tinylm.data.vocab import EOS_ID, MASK_ID, N_SPECIAL, PAD_ID, UNK_ID
from tinylm.errors import TinylmError, UsageError
from tinylm.model import NORM_EPS, ROPE_BASE, Transformer

ARCHITECTURE = "gptneox"


def check_gguf_fit(objective: str, kind: str) -> None:
    """Refuse what llama.cpp's gptneox with a gpt2 tokenizer cannot hold, in one line."""
    if objective != "causal":
        raise UsageError(
            f"--format gguf takes causal models only: llama.cpp generates left to right, and "
            f"this is a {objective} model (use --format hf)."
        )
    if kind != "bpe":
        raise UsageError(
            f"--format gguf needs the byte-level BPE tokenizer (llama.cpp's gpt2 tokenizer); "
            f"this model's tokenizer is {kind} (use --format hf, or train with --kind bpe)."
        )


def _merges(spec: dict) -> list[str]:
    """The BPE merges as "left right" strings (tokenizers writes pairs or such strings)."""
    return [m if isinstance(m, str) else " ".join(m) for m in spec["model"]["merges"]]


def _vocab(tok: Tokenizer) -> tuple[list[str], list[int]]:
    """Tokens in id order, and their GGUF token types (the fixed specials are control tokens)."""
    import gguf

    by_id = sorted(tok.get_vocab(with_added_tokens=True).items(), key=lambda kv: kv[1])
    tokens = [t for t, _ in by_id]
    if [i for _, i in by_id] != list(range(len(tokens))):
        raise TinylmError("the tokenizer's ids are not contiguous; it cannot be written as GGUF.")
    normal, control = int(gguf.TokenType.NORMAL), int(gguf.TokenType.CONTROL)
    return tokens, [control if i < N_SPECIAL else normal for i in range(len(tokens))]


def _tensors(model: Transformer) -> dict[str, np.ndarray]:
    """The gptneox tensors, float32, in llama.cpp's names; zero biases, the tied head twice."""
    cfg = model.config
    C = cfg.d_model
    sd = {k: v.detach().float().cpu().numpy() for k, v in model.state_dict().items()}
    zeros = lambda n: np.zeros(n, dtype=np.float32)  # noqa: E731 - biases tinylm lacks
    out = {"token_embd.weight": sd["tok_emb.weight"], "output.weight": sd["tok_emb.weight"]}
    out["output_norm.weight"], out["output_norm.bias"] = sd["norm_f.weight"], zeros(C)
    for i in range(cfg.n_layer):
        src, dst = f"blocks.{i}.", f"blk.{i}."
        pairs = {
            "attn_norm": ("norm1.weight", C),
            "attn_qkv": ("attn.qkv.weight", 3 * C),
            "attn_output": ("attn.proj.weight", C),
            "ffn_norm": ("norm2.weight", C),
            "ffn_up": ("mlp.fc.weight", 4 * C),
            "ffn_down": ("mlp.proj.weight", C),
        }
        for name, (tiny, width) in pairs.items():
            out[f"{dst}{name}.weight"] = sd[src + tiny]
            out[f"{dst}{name}.bias"] = zeros(width)
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}


@torch.inference_mode()
def write_gguf(model: Transformer, tok: Tokenizer, path: Path, name: str) -> None:
    """Write `model` and its tokenizer to the GGUF file `path`."""
    import gguf

    cfg = model.config
    check_gguf_fit(cfg.objective, tokenizer_kind(tok))
    tokens, types = _vocab(tok)
    w = gguf.GGUFWriter(str(path), ARCHITECTURE)
    w.add_name(name)
    w.add_file_type(int(gguf.LlamaFileType.ALL_F32))
    w.add_context_length(cfg.block_size)
    w.add_embedding_length(cfg.d_model)
    w.add_block_count(cfg.n_layer)
    w.add_feed_forward_length(4 * cfg.d_model)
    w.add_head_count(cfg.n_head)
    w.add_rope_dimension_count(cfg.d_model // cfg.n_head)  # every channel rotates
    w.add_rope_freq_base(ROPE_BASE)
    w.add_parallel_residual(False)
    w.add_layer_norm_eps(NORM_EPS)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")  # the GPT-2 split regex, as tinylm's ByteLevel pre-tokenizer
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(_merges(json.loads(tok.to_str())))
    w.add_bos_token_id(EOS_ID)  # a document starts after an [EOS]
    w.add_eos_token_id(EOS_ID)
    w.add_unk_token_id(UNK_ID)
    w.add_pad_token_id(PAD_ID)
    w.add_mask_token_id(MASK_ID)
    w.add_add_bos_token(False)  # tinylm adds nothing to a prompt
    for tensor_name, array in _tensors(model).items():
        w.add_tensor(tensor_name, array)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
