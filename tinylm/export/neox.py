"""A causal tinylm model as transformers' `GPTNeoXForCausalLM`: config.json and its weights.

GPT-NeoX with `use_parallel_residual=False` is tinylm's pre-norm block: LayerNorm (a zero bias
added), attention with rotate-half RoPE on every channel (`rotary_pct=1.0`), erf GELU MLP of
width 4 * d_model, a final LayerNorm and a head tied to the embedding.
"""

from __future__ import annotations

import torch

from tinylm.data.vocab import EOS_ID, PAD_ID
from tinylm.model import NORM_EPS, ROPE_BASE, ModelConfig, Transformer

ARCHITECTURE = "GPTNeoXForCausalLM"


def neox_config(cfg: ModelConfig) -> dict:
    """config.json of the GPTNeoXForCausalLM that computes `cfg`'s model."""
    return {
        "architectures": [ARCHITECTURE],
        "model_type": "gpt_neox",
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.d_model,
        "num_hidden_layers": cfg.n_layer,
        "num_attention_heads": cfg.n_head,
        "intermediate_size": 4 * cfg.d_model,
        "hidden_act": "gelu",  # erf GELU, as torch's F.gelu
        "max_position_embeddings": cfg.block_size,
        "layer_norm_eps": NORM_EPS,
        "use_parallel_residual": False,
        "attention_bias": True,  # the class always has biases here: they are written as zeros
        "attention_dropout": 0.0,
        "hidden_dropout": 0.0,
        # transformers 5 reads rope_parameters; 4.x reads the two keys after it
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": ROPE_BASE,
            "partial_rotary_factor": 1.0,
        },
        "rotary_emb_base": ROPE_BASE,
        "rotary_pct": 1.0,
        "tie_word_embeddings": True,
        # tinylm starts a document after an [EOS] (as GPT-2 after <|endoftext|>)
        "bos_token_id": EOS_ID,
        "eos_token_id": EOS_ID,
        "pad_token_id": PAD_ID,
        "initializer_range": 0.02,
        "use_cache": True,
        "dtype": "float32",
    }


def qkv_per_head(w: torch.Tensor, n_head: int) -> torch.Tensor:
    """tinylm's fused qkv rows (3, heads, head_dim) re-laid as GPT-NeoX's (heads, 3, head_dim)."""
    rows, C = w.shape
    D = rows // (3 * n_head)
    return w.view(3, n_head, D, C).transpose(0, 1).reshape(rows, C)  # (3C, C) -> (3C, C)


def neox_state_dict(model: Transformer) -> dict[str, torch.Tensor]:
    """The GPTNeoXForCausalLM weights of a causal tinylm model (float32, zero biases)."""
    cfg = model.config
    sd = {k: v.detach().float() for k, v in model.state_dict().items()}
    zeros = lambda n: torch.zeros(n)  # noqa: E731 - the class's biases, which tinylm lacks
    C = cfg.d_model
    emb = sd["tok_emb.weight"]
    out = {"gpt_neox.embed_in.weight": emb, "lm_head.weight": emb.clone()}  # the tied head
    for i in range(cfg.n_layer):
        src, dst = f"blocks.{i}.", f"gpt_neox.layers.{i}."
        pairs = {
            "input_layernorm": ("norm1.weight", C),
            "post_attention_layernorm": ("norm2.weight", C),
            "attention.dense": ("attn.proj.weight", C),
            "mlp.dense_h_to_4h": ("mlp.fc.weight", 4 * C),
            "mlp.dense_4h_to_h": ("mlp.proj.weight", C),
        }
        for name, (tiny, width) in pairs.items():
            out[f"{dst}{name}.weight"] = sd[src + tiny]
            out[f"{dst}{name}.bias"] = zeros(width)
        qkv = sd[src + "attn.qkv.weight"]  # (3C, C)
        out[f"{dst}attention.query_key_value.weight"] = qkv_per_head(qkv, cfg.n_head)
        out[f"{dst}attention.query_key_value.bias"] = zeros(3 * C)
    out["gpt_neox.final_layer_norm.weight"] = sd["norm_f.weight"]
    out["gpt_neox.final_layer_norm.bias"] = zeros(C)
    return {k: v.contiguous() for k, v in out.items()}
