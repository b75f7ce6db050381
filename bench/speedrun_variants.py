"""modded-nanogpt speedrun techniques as changes to tinylm's model and trainer, for ablations.

`build(cfg, spec)` builds tinylm's own Transformer with the same seed-drawn weights as the
baseline, then swaps in the spec's pieces (reusing those weights, so a variant and the baseline
start from the same point); `trainer_for(spec, budget)` gives tinylm's Trainer or a subclass with
another schedule or window length. A spec is a set of names from TECHNIQUES, joined by "+" on the
command line (bench/speedrun_bench.py). The variants train and evaluate only: no KV cache.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

from tinylm import validate
from tinylm.metrics import IGNORE
from tinylm.model import (
    MLP,
    NORM_EPS,
    Attention,
    KVCache,
    ModelConfig,
    Rope,
    Transformer,
    apply_rope,
)
from tinylm.train import objectives
from tinylm.train.trainer import Trainer

TECHNIQUES = {
    "relu2": "MLP activation relu(x)**2 instead of GELU (same weights)",
    "qknorm": "RMSNorm without gain on q and k per head before RoPE; a learned per-head logit "
    "scale, initialised to SDPA's 1/sqrt(head_dim)",
    "zeroinit": "attn.proj and mlp.proj weights start at 0 (each block starts as the identity)",
    "softcap15": "logits = 15 * tanh(logits / 15)",
    "softcap30": "logits = 30 * tanh(logits / 30)",
    "x0mix": "each block's input is a*x + b*x0 (x0 = the embedding output), a learned pair per "
    "block initialised to (1, 0): modded-nanogpt's lambdas",
    "smear": "x_t += sigmoid(w . x_t[:12]) * x_{t-1} on the embeddings, w zero-initialised (so "
    "0.5 at first); causal only",
    "untied": "a separate zero-initialised head matrix (AdamW, like the embeddings)",
    "warmdown": "the same 50-step warmup, then a constant lr, then linear to 0 over the last 45 % "
    "of the time budget (instead of cosine to 0.1)",
    "shortseq": "the first 20 % of the time on half-length windows, twice as many per step (the "
    "same tokens per step)",
}
CAUSAL_ONLY = {"smear"}
SMEAR_WIDTH = 12  # the gate reads this many channels of the current token (modded-nanogpt's 12)
WARMDOWN_SHARE = 0.45  # of the time budget: the linear decay to 0 at the end
SHORT_SHARE = 0.2  # of the time budget: half-length windows
Spec = frozenset[str]


def parse_spec(text: str) -> Spec:
    """A spec from "name" or "name+name+...", checked against TECHNIQUES ("baseline" = none)."""
    if text == "baseline":
        return frozenset()
    names = text.split("+")
    unknown = [n for n in names if n not in TECHNIQUES]
    if unknown:
        raise ValueError(f"unknown technique {unknown[0]!r}; known: {', '.join(TECHNIQUES)}")
    if {"softcap15", "softcap30"} <= set(names):
        raise ValueError("softcap15 and softcap30 are two values of one cap: pick one")
    return frozenset(names)


def spec_name(spec: Spec) -> str:
    """The name a spec is shown under: its techniques in TECHNIQUES order."""
    return "+".join(n for n in TECHNIQUES if n in spec) or "baseline"


class ReLU2MLP(MLP):
    """The MLP with relu(x)**2 (So et al. 2021, Primer; modded-nanogpt) in place of GELU."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(F.relu(self.fc(x)).square())


class QKNormAttention(Attention):
    """Attention on RMS-normalised q and k (no gain); logits are q_scale[h] * q.k per head."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)
        head_dim = cfg.d_model // cfg.n_head
        # normalised q.k has a spread of sqrt(head_dim) at random: SDPA's scale keeps it at ~1
        # at first, and the learned scale lets a head sharpen past the fixed bound of head_dim
        self.q_scale = nn.Parameter(torch.full((cfg.n_head,), head_dim**-0.5))

    def _qkv(self, x: torch.Tensor, rope: Rope) -> tuple[torch.Tensor, ...]:
        B, T, C = x.shape
        D = C // self.n_head
        qkv = self.qkv(x).view(B, T, 3, self.n_head, D).permute(2, 0, 3, 1, 4)  # (3, B, H, T, D)
        q, k = apply_rope(F.rms_norm(qkv[:2], (D,), eps=NORM_EPS), *rope)
        # SDPA divides by sqrt(D) again: multiply it back so the logit scale is q_scale itself
        q = q * (self.q_scale.view(-1, 1, 1) * math.sqrt(D))
        return q, k, qkv[2]


class SpeedrunTransformer(Transformer):
    """tinylm's Transformer plus the embedding-side and head-side techniques of a spec."""

    def __init__(self, cfg: ModelConfig, spec: Spec) -> None:
        super().__init__(cfg)
        self.cap = cap_of(spec)
        self.smear = nn.Linear(SMEAR_WIDTH, 1, bias=False) if "smear" in spec else None
        if self.smear is not None:
            nn.init.zeros_(self.smear.weight)
        self.lambdas = None  # (a, b) per block: its input is a * x + b * x0
        if "x0mix" in spec:
            self.lambdas = nn.Parameter(torch.tensor([1.0, 0.0]).repeat(cfg.n_layer))
        if "untied" in spec:
            self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
            nn.init.zeros_(self.head.weight)  # uniform predictions at first, as modded-nanogpt

    def hidden(self, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Final hidden states (B, T, C) of token ids (B, T); no KV cache."""
        if cache is not None:
            raise ValueError("bench variants train and evaluate only: no KV cache")
        T = idx.size(1)
        if T > self.config.block_size:
            raise ValueError(f"sequence length {T} exceeds block_size {self.config.block_size}")
        rope = (self.rope_cos[:T], self.rope_sin[:T])
        x = self.drop(self.tok_emb(idx))  # (B, T, C)
        if self.smear is not None:  # token t takes a gated share of token t - 1's embedding
            gate = torch.sigmoid(self.smear(x[:, 1:, :SMEAR_WIDTH]))  # (B, T - 1, 1)
            x = torch.cat((x[:, :1], x[:, 1:] + gate * x[:, :-1]), dim=1)
        x0 = x
        for i, block in enumerate(self.blocks):
            if self.lambdas is not None:
                x = self.lambdas[2 * i] * x + self.lambdas[2 * i + 1] * x0
            x = block(x, rope)
        return self.norm_f(x)

    def forward(self, idx, select=None, cache=None, logits=True) -> torch.Tensor:  # noqa: ANN001
        """Logits (B, T, V), or (N, V) at a boolean `select`; soft-capped if the spec says so.
        logits=False: the hidden states, for the head losses (see `soft_capped_heads`)."""
        out = super().forward(idx, select, cache, logits)
        return out if self.cap is None or not logits else self.cap * torch.tanh(out / self.cap)


def _capped_logits(h: torch.Tensor, weight: torch.Tensor, cap: float, banned: int) -> torch.Tensor:
    z = h.reshape(-1, h.size(-1)).float() @ weight.float().mT
    z = cap * torch.tanh(z / cap)
    if banned:
        z[:, :banned] = float("-inf")
    return z


@contextlib.contextmanager
def soft_capped_heads(cap: float | None) -> Iterator[None]:
    """tinylm trains and evaluates through a sliced head whose gradient assumes plain logits
    (tinylm.head_loss); while a soft-cap run lasts, its loss functions are full-logit ones with
    the cap, so autograd goes through the tanh. Nothing changes when cap is None."""
    if cap is None:
        yield
        return

    def nll(h, weight, targets, scale=None, banned=0):  # noqa: ANN001, ANN202 - head_nll's
        t = targets.reshape(-1)
        per = F.cross_entropy(
            _capped_logits(h, weight, cap, banned), t.clamp_min(0), reduction="none"
        )
        keep = t != IGNORE
        if scale is None:
            return per[keep].mean()
        return torch.where(keep, per * scale.reshape(-1).float(), 0.0).sum()

    def token_nll(h, weight, targets, banned=0):  # noqa: ANN001, ANN202 - head_token_nll's
        z = _capped_logits(h, weight, cap, banned)
        return F.cross_entropy(z, targets.reshape(-1), reduction="none")

    saved = objectives.head_nll, validate.head_token_nll
    objectives.head_nll, validate.head_token_nll = nll, token_nll
    try:
        yield
    finally:
        objectives.head_nll, validate.head_token_nll = saved


def cap_of(spec: Spec) -> float | None:
    """The spec's logit soft-cap, if any."""
    return 15.0 if "softcap15" in spec else 30.0 if "softcap30" in spec else None


MODEL_SIDE = {"softcap15", "softcap30", "smear", "x0mix", "untied"}


def build(cfg: ModelConfig, spec: Spec) -> Transformer:
    """The spec's model; its shared weights equal a plain Transformer(cfg) drawn at the same seed
    (new parameters are constants, drawn after)."""
    model = SpeedrunTransformer(cfg, spec) if spec & MODEL_SIDE else Transformer(cfg)
    for block in model.blocks:
        if "relu2" in spec:
            mlp = ReLU2MLP(cfg)
            mlp.fc, mlp.proj = block.mlp.fc, block.mlp.proj
            block.mlp = mlp
        if "qknorm" in spec:
            attn = QKNormAttention(cfg)
            attn.qkv, attn.proj = block.attn.qkv, block.attn.proj
            block.attn = attn
        if "zeroinit" in spec:
            nn.init.zeros_(block.attn.proj.weight)
            nn.init.zeros_(block.mlp.proj.weight)
    return model


def warmdown_factor(step: int, progress: float, warmup: int) -> float:
    """Linear warmup over `warmup` steps, then 1, then linear to 0 over the last WARMDOWN_SHARE."""
    if step < warmup:
        return (step + 1) / warmup
    return min(1.0, max(0.0, (1.0 - progress) / WARMDOWN_SHARE))


class SpeedrunTrainer(Trainer):
    """tinylm's trainer with the warmdown schedule and/or short windows early on. It keeps its
    own count of steps and training seconds: bench/common.py's timed_run passes only the cosine
    schedule's factor."""

    budget = 0.0
    warmdown = False
    short = False

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.steps, self.trained = 0, 0.0

    def train_step(self, lr_scale: float, frac: float = 1.0) -> float:
        t0 = time.perf_counter()
        progress = self.trained / self.budget
        if self.warmdown:
            lr_scale = warmdown_factor(self.steps, progress, self.cfg.warmup)
        full_cfg, full_window = self.cfg, self.window
        if self.short and progress < SHORT_SHARE:
            self.cfg = replace(full_cfg, batch_size=2 * full_cfg.batch_size)
            self.window = self.mcfg.block_size // 2 + int(self.mcfg.causal)
        try:
            loss = super().train_step(lr_scale, frac)
        finally:
            self.cfg, self.window = full_cfg, full_window
        self.steps += 1
        self.trained += time.perf_counter() - t0
        return loss


def trainer_for(spec: Spec, budget: float) -> type[Trainer]:
    """tinylm's Trainer, or a SpeedrunTrainer set for the spec's schedule and windows."""
    if not spec & {"warmdown", "shortseq"}:
        return Trainer
    flags = {"budget": budget, "warmdown": "warmdown" in spec, "short": "shortseq" in spec}
    return type(f"Trainer_{spec_name(spec)}", (SpeedrunTrainer,), flags)
