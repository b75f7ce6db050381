"""A bidirectional tinylm model (masked or diffusion) as transformers' `EsmForMaskedLM`.

ESM-2's encoder is tinylm's: pre-LayerNorm blocks, rotate-half RoPE, an erf GELU MLP of width
4 * d_model, a final LayerNorm (`emb_layer_norm_after`). Its masked-LM head adds dense -> GELU ->
LayerNorm before the tied decoder, which tinylm lacks (a learned one cost blank top-1 in
bench/blanks_bench.py), so the head is set to act as the identity on what the encoder gives it:

- `emb_layer_norm_after` normalises without a gain, so each vector has mean 0 and |x_i| <=
  sqrt(d_model);
- `dense` = HEAD_SCALE * I, bias HEAD_SCALE * sqrt(d_model) + HEAD_MARGIN: every GELU input is
  at least HEAD_MARGIN, where GELU(x) = x exactly in float32 (erf(8 / sqrt 2) rounds to 1);
- the head's LayerNorm removes that constant shift and scale and applies tinylm's final gain.

The two LayerNorms together normalise with an epsilon of about eps / HEAD_SCALE**2 relative to
the variance: tinylm's bidirectional final norm (`EXACT_NORM_EPS`) up to float32 rounding.
"""

from __future__ import annotations

import math

import torch

from tinylm.data.vocab import EOS_ID, MASK_ID, PAD_ID
from tinylm.model import NORM_EPS, ROPE_BASE, ModelConfig, Transformer

ARCHITECTURE = "EsmForMaskedLM"
HEAD_SCALE = 10.0
HEAD_MARGIN = 8.0


def esm_config(cfg: ModelConfig) -> dict:
    """config.json of the EsmForMaskedLM that computes `cfg`'s model."""
    return {
        "architectures": [ARCHITECTURE],
        "model_type": "esm",
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.d_model,
        "num_hidden_layers": cfg.n_layer,
        "num_attention_heads": cfg.n_head,
        "intermediate_size": 4 * cfg.d_model,
        "hidden_act": "gelu",
        "max_position_embeddings": cfg.block_size,
        "position_embedding_type": "rotary",
        "rope_theta": ROPE_BASE,
        "layer_norm_eps": NORM_EPS,
        "emb_layer_norm_before": False,
        "token_dropout": False,
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "is_folding_model": False,
        "tie_word_embeddings": True,
        "mask_token_id": MASK_ID,
        "pad_token_id": PAD_ID,
        "eos_token_id": EOS_ID,
        "initializer_range": 0.02,
        "dtype": "float32",
    }


def _identity_head(C: int, gain: torch.Tensor) -> dict[str, torch.Tensor]:
    """EsmLMHead's dense and LayerNorm weights that make dense -> GELU -> LayerNorm apply only
    tinylm's final gain to an already normalised vector (see the module's docstring)."""
    return {
        "lm_head.dense.weight": HEAD_SCALE * torch.eye(C),
        "lm_head.dense.bias": torch.full((C,), HEAD_SCALE * math.sqrt(C) + HEAD_MARGIN),
        "lm_head.layer_norm.weight": gain,
        "lm_head.layer_norm.bias": torch.zeros(C),
    }


def esm_state_dict(model: Transformer) -> dict[str, torch.Tensor]:
    """The EsmForMaskedLM weights of a bidirectional tinylm model (float32, zero biases)."""
    cfg = model.config
    sd = {k: v.detach().float() for k, v in model.state_dict().items()}
    C = cfg.d_model
    emb = sd["tok_emb.weight"]
    out = {"esm.embeddings.word_embeddings.weight": emb, "lm_head.decoder.weight": emb.clone()}
    for i in range(cfg.n_layer):
        src, dst = f"blocks.{i}.", f"esm.encoder.layer.{i}."
        q, k, v = sd[src + "attn.qkv.weight"].chunk(3)  # (3C, C): q, k, v rows, heads inside
        pairs = {
            "attention.self.query": q,
            "attention.self.key": k,
            "attention.self.value": v,
            "attention.output.dense": sd[src + "attn.proj.weight"],
            "attention.LayerNorm": sd[src + "norm1.weight"],
            "intermediate.dense": sd[src + "mlp.fc.weight"],
            "output.dense": sd[src + "mlp.proj.weight"],
            "LayerNorm": sd[src + "norm2.weight"],
        }
        for name, w in pairs.items():
            out[f"{dst}{name}.weight"] = w
            out[f"{dst}{name}.bias"] = torch.zeros(w.shape[0])
    out["esm.encoder.emb_layer_norm_after.weight"] = torch.ones(C)  # the gain moves to the head
    out["esm.encoder.emb_layer_norm_after.bias"] = torch.zeros(C)
    out.update(_identity_head(C, sd["norm_f.weight"]))
    out["lm_head.bias"] = torch.zeros(cfg.vocab_size)
    # ESM's contact-prediction head (protein structure) is unused: zeros keep the load silent
    out["esm.contact_head.regression.weight"] = torch.zeros(1, cfg.n_layer * cfg.n_head)
    out["esm.contact_head.regression.bias"] = torch.zeros(1)
    return {k: v.contiguous() for k, v in out.items()}
