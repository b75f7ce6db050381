"""The blocks tinylm's model lost to, kept here so bench/arch_bench.py can still compare them.

tinylm builds LayerNorm + GELU MLP + RoPE only. `build` takes that Transformer and swaps in
RMSNorm, a SwiGLU MLP or learned absolute positions, then initialises it as tinylm does. The
variants train and evaluate through tinylm's own trainer; they do not generate or save.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from tinylm.model import Attention, KVCache, ModelConfig, Transformer

NORMS = ("layernorm", "rmsnorm")
MLPS = ("gelu", "swiglu")
POSITIONS = ("learned", "rope")


@dataclass(frozen=True)
class Variant:
    """Which norm, MLP and position scheme a bench model uses; the defaults are tinylm's own."""

    norm: str = "layernorm"
    mlp: str = "gelu"
    pos: str = "rope"
    d_ff: int = 0  # SwiGLU's hidden width; 0 means 4 * d_model

    def __post_init__(self) -> None:
        for name, allowed in (("norm", NORMS), ("mlp", MLPS), ("pos", POSITIONS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.d_ff < 0 or (self.d_ff and self.mlp != "swiglu"):
            raise ValueError(f"d_ff sets SwiGLU's width (>= 0, 0 = 4 * d_model), got {self.d_ff}")


class SwiGLU(nn.Module):
    """A gated MLP, silu(x W) * (x V) (Shazeer 2020); W and V are stacked in one `fc` matrix."""

    def __init__(self, d_model: int, width: int) -> None:
        super().__init__()
        self.fc = nn.Linear(d_model, 2 * width, bias=False)
        self.proj = nn.Linear(width, d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.fc(x).chunk(2, dim=-1)
        return self.proj(F.silu(a) * b)


class NoRopeAttention(Attention):
    """tinylm's attention without the rotation: positions come from a learned embedding."""

    def _qkv(self, x: torch.Tensor, rope: None) -> tuple[torch.Tensor, ...]:
        B, T, C = x.shape
        qkv = self.qkv(x).view(B, T, 3, self.n_head, C // self.n_head).permute(2, 0, 3, 1, 4)
        return tuple(qkv)  # q, k, v, each (B, H, T, C / H)


class LearnedPositions(Transformer):
    """GPT-2's absolute positions: a learned embedding added to the tokens, no RoPE."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)
        self.pos_emb = nn.Embedding(cfg.block_size, cfg.d_model)
        for block in self.blocks:
            block.attn = NoRopeAttention(cfg)

    def hidden(self, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Final hidden states (B, T, C) of token ids (B, T); no KV cache."""
        T = idx.size(1)
        if cache is not None:
            raise ValueError("bench variants train and evaluate only: no KV cache")
        if T > self.config.block_size:
            raise ValueError(f"sequence length {T} exceeds block_size {self.config.block_size}")
        x = self.drop(self.tok_emb(idx) + self.pos_emb.weight[:T])
        for block in self.blocks:
            x = block(x, None)
        return self.norm_f(x)


def _rms_norm(cfg: ModelConfig) -> nn.Module:
    return nn.RMSNorm(cfg.d_model, eps=1e-6)


def build(cfg: ModelConfig, variant: Variant) -> Transformer:
    """tinylm's Transformer with the variant's blocks swapped in, initialised as tinylm does."""
    model = LearnedPositions(cfg) if variant.pos == "learned" else Transformer(cfg)
    for block in model.blocks:
        if variant.norm == "rmsnorm":
            block.norm1, block.norm2 = _rms_norm(cfg), _rms_norm(cfg)
        if variant.mlp == "swiglu":
            block.mlp = SwiGLU(cfg.d_model, variant.d_ff or 4 * cfg.d_model)
    if variant.norm == "rmsnorm":
        model.norm_f = _rms_norm(cfg)
    # the same init as Transformer.__init__, over the swapped-in modules too
    model.apply(Transformer._init)
    for name, p in model.named_parameters():
        if name.endswith("proj.weight"):
            nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))
    return model
