"""One Transformer for both families: a GPT when `objective="causal"`, a BERT when `"masked"`.

The two differ only in the attention's `is_causal`; the losses live in `tinylm.train.objectives`.
This module imports torch and the standard library only.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

OBJECTIVES = ("causal", "masked", "diffusion")  # masked and diffusion are both bidirectional
# Sanity bounds, checked before anything is allocated: a crafted config must not ask for terabytes
MAX_BLOCK_SIZE = 65536
MAX_PARAMS = 2_000_000_000
# RoPE's base period (Su et al. 2021), the same for every model: not a config field
ROPE_BASE = 10000.0
NORM_EPS = 1e-5  # every LayerNorm's epsilon (torch's default), but a bidirectional final norm's
# A bidirectional model's final norm has next to no epsilon: a stock masked-LM head (dense, GELU,
# LayerNorm; transformers' EsmForMaskedLM) set to act as the identity then reproduces it exactly,
# since its LayerNorm renormalises what the encoder's already normalised (tinylm export). A
# learned head transform instead cost blank top-1 on two seeds (bench/blanks_bench.py).
EXACT_NORM_EPS = 1e-12


@dataclass(frozen=True)
class ModelConfig:
    """The whole description of an architecture; saved as JSON beside the weights.

    The blocks are fixed: LayerNorm (no bias), a GELU MLP of width 4 * d_model, rotary positions,
    chosen by validation loss per CPU second (bench/arch_bench.py): rope beat learned positions
    on two seeds; RMSNorm and SwiGLU did not pay for their cost at this size.
    """

    # No defaults: whoever builds a model states all of it (`tinylm train` from its size presets
    # and defaults in tinylm/train/config.py, a checkpoint from its config.json).
    vocab_size: int
    block_size: int
    n_layer: int
    n_head: int
    d_model: int
    dropout: float
    objective: str  # one of OBJECTIVES
    # The final norm's epsilon; None is the family's (final_norm_eps_for). Checkpoints from
    # before the field existed load with NORM_EPS.
    final_norm_eps: float | None = None

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "d_model"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.d_model % self.n_head:
            raise ValueError(
                f"d_model ({self.d_model}) must be divisible by n_head ({self.n_head})"
            )
        if (self.d_model // self.n_head) % 2:
            raise ValueError(f"rope needs an even head width, got {self.d_model // self.n_head}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        if self.final_norm_eps is not None and not 0.0 < self.final_norm_eps <= NORM_EPS:
            raise ValueError(
                f"final_norm_eps must be in (0, {NORM_EPS}], got {self.final_norm_eps}"
            )
        if self.block_size > MAX_BLOCK_SIZE:
            raise ValueError(f"block_size must be at most {MAX_BLOCK_SIZE}, got {self.block_size}")
        if self.param_count > MAX_PARAMS:
            raise ValueError(
                f"this shape has {self.param_count:,} parameters, over tinylm's limit of "
                f"{MAX_PARAMS:,}"
            )

    @property
    def param_count(self) -> int:
        """Parameters of the model this config builds, computed without building it."""
        C = self.d_model
        per_block = 2 * C + 3 * C * C + C * C + 2 * 4 * C * C  # norms, qkv, proj, MLP in and out
        return self.vocab_size * C + self.n_layer * per_block + C  # tied head; final norm

    @property
    def norm_f_eps(self) -> float:
        """The final LayerNorm's epsilon: NORM_EPS for a causal model, EXACT_NORM_EPS for a
        bidirectional one."""
        if self.final_norm_eps is not None:
            return self.final_norm_eps
        return NORM_EPS if self.causal else EXACT_NORM_EPS

    @property
    def causal(self) -> bool:
        """Whether each token attends only to itself and the past."""
        return self.objective == "causal"

    def to_dict(self) -> dict:
        """A JSON-ready dict of every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        """Rebuild a config; unknown keys are an error, not silently dropped."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown model config keys: {', '.join(unknown)}")
        return cls(**d)


def rope_tables(head_dim: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotary tables (length, head_dim): cos twice, and sin with the first half negated.

    With them a rotation of channel pairs (i, i + D/2) is x * cos + roll(x, D/2) * sin: three
    ops instead of eight, which is most of a one-token decoding step's RoPE cost. Real-valued,
    so MPS can run it.
    """
    inv_freq = ROPE_BASE ** (-torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    angles = torch.outer(torch.arange(length, dtype=torch.float32), inv_freq)
    cos, sin = angles.cos(), angles.sin()
    return torch.cat((cos, cos), dim=-1), torch.cat((-sin, sin), dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate channel pairs (i, i + D/2) of x by position; cos/sin broadcast over x."""
    out = torch.addcmul(x * cos, x.roll(x.size(-1) // 2, dims=-1), sin)
    return out if out.dtype == x.dtype else out.to(x.dtype)  # fp32 tables under autocast


Rope = tuple[torch.Tensor, torch.Tensor]  # cos and sin rows (T, head_dim) of the positions


class KVCache:
    """Keys and values (B, H, T, D) of the positions seen so far, per layer, for generation."""

    def __init__(self, n_layer: int, capacity: int) -> None:
        self.k: list[torch.Tensor | None] = [None] * n_layer
        self.v: list[torch.Tensor | None] = [None] * n_layer
        self.capacity = capacity  # buffers are allocated once and written in place
        self.pos = 0  # positions already in the cache

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.k[layer] is None:
            B, H, _, D = k.shape
            self.k[layer] = k.new_empty(B, H, self.capacity, D)
            self.v[layer] = v.new_empty(B, H, self.capacity, D)
        end = self.pos + k.size(2)
        self.k[layer][:, :, self.pos : end] = k
        self.v[layer][:, :, self.pos : end] = v
        return self.k[layer][:, :, :end], self.v[layer][:, :, :end]


class Attention(nn.Module):
    """Multi-head self-attention through `scaled_dot_product_attention`."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_head = cfg.n_head
        self.causal = cfg.causal
        self.dropout = cfg.dropout
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=False)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model, bias=False)

    def _qkv(self, x: torch.Tensor, rope: Rope) -> tuple[torch.Tensor, ...]:
        """Queries, keys (rotated) and values, each (B, H, T, C / H)."""
        B, T, C = x.shape
        qkv = self.qkv(x).view(B, T, 3, self.n_head, C // self.n_head).permute(2, 0, 3, 1, 4)
        q, k = apply_rope(qkv[:2], *rope)  # q and k rotate together: half the ops of two calls
        return q, k, qkv[2]

    def forward(self, x: torch.Tensor, rope: Rope, cache: KVCache | None = None, layer: int = 0):
        B, T, C = x.shape
        q, k, v = self._qkv(x, rope)
        past = 0 if cache is None else cache.pos
        if cache is not None:  # a prompt fills an empty cache, then one new token at a time
            k, v = cache.update(layer, k, v)
        drop = self.dropout if self.training else 0.0
        causal = self.causal and past == 0  # a single new token may see every cached one
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=drop, is_causal=causal)
        y = y.transpose(1, 2).reshape(B, T, C)  # (B, H, T, C / H) -> (B, T, C)
        return self.proj(y)

    def weights(self, x: torch.Tensor, rope: Rope) -> torch.Tensor:
        """The attention probabilities (B, H, T, T) that `forward` uses, for inspection."""
        q, k, _ = self._qkv(x, rope)
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
        if self.causal:
            T = x.size(1)
            future = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
            scores = scores.masked_fill(future, float("-inf"))
        return scores.softmax(-1)


class MLP(nn.Module):
    """GELU MLP of width 4 * d_model."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.fc = nn.Linear(cfg.d_model, 4 * cfg.d_model, bias=False)
        self.proj = nn.Linear(4 * cfg.d_model, cfg.d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(F.gelu(self.fc(x)))


class Block(nn.Module):
    """Pre-norm residual block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.d_model, eps=NORM_EPS, bias=False)
        self.attn = Attention(cfg)
        self.norm2 = nn.LayerNorm(cfg.d_model, eps=NORM_EPS, bias=False)
        self.mlp = MLP(cfg)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, rope: Rope, cache: KVCache | None = None, layer: int = 0):
        x = x + self.drop(self.attn(self.norm1(x), rope, cache, layer))
        return x + self.drop(self.mlp(self.norm2(x)))


class Transformer(nn.Module):
    """Token embeddings, blocks, a final norm, and an output head tied to the embeddings."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.config = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
        cos, sin = rope_tables(cfg.d_model // cfg.n_head, cfg.block_size)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.norm_f = nn.LayerNorm(cfg.d_model, eps=cfg.norm_f_eps, bias=False)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.head.weight = self.tok_emb.weight  # tied: one matrix reads and writes tokens
        self.apply(self._init)
        # GPT-2 scaling: each residual branch adds variance, so shrink the projections into it
        for name, p in self.named_parameters():
            if name.endswith("proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear | nn.Embedding):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)

    @property
    def device(self) -> torch.device:
        """Where the weights are: inputs go there."""
        return self.tok_emb.weight.device

    def set_dropout(self, p: float) -> None:
        """Change every dropout rate in place (training raises it as data repeats)."""
        for m in self.modules():
            if isinstance(m, nn.Dropout):
                m.p = p
            elif isinstance(m, Attention):
                m.dropout = p

    def num_params(self) -> int:
        """Parameters, the tied head counted once."""
        return sum(p.numel() for p in self.parameters())

    def hidden(self, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Final hidden states (B, T, C) of token ids (B, T), continuing `cache` if given."""
        B, T = idx.shape
        start = 0 if cache is None else cache.pos
        if start and T > 1:
            raise ValueError("a KV cache takes a prompt only when empty, then one token at a time")
        if start + T > self.config.block_size:
            raise ValueError(
                f"sequence length {start + T} exceeds block_size {self.config.block_size}"
            )
        rope = (self.rope_cos[start : start + T], self.rope_sin[start : start + T])
        x = self.drop(self.tok_emb(idx))
        for i, block in enumerate(self.blocks):
            x = block(x, rope, cache, i)
        if cache is not None:
            cache.pos += T
        return self.norm_f(x)

    def forward(
        self,
        idx: torch.Tensor,
        select: torch.Tensor | None = None,
        cache: KVCache | None = None,
        logits: bool = True,
    ) -> torch.Tensor:
        """Logits (B, T, V); with a boolean `select` (B, T), only those positions: (N, V).
        With `logits` False, the final hidden states there instead: a loss that applies the head
        itself (a slice at a time) never holds all the logits at once."""
        h = self.hidden(idx, cache)
        if select is not None:
            h = h[select]  # the head is most of the cost at a large vocabulary
        return self.head(h) if logits else h
