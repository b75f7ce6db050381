"""The masked recipes that bench/blanks_bench.py races against the causal simulation at blanks.

Each entry of VARIANTS is (objective, masking config or custom masking, size[, model builder,
train fields, trainer class]); `variant_setup` turns one into what a run trains.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import torch
from torch import nn

from tinylm.data.vocab import MASK_ID, N_SPECIAL
from tinylm.metrics import IGNORE
from tinylm.model import ModelConfig, Transformer
from tinylm.train.config import BATCH_SIZES, SIZES, MaskingConfig, TrainConfig
from tinylm.train.objectives import Task, causal_task, labelled_task, masked_task
from tinylm.train.trainer import Trainer


def per_sequence_rates(lo: float, hi: float):  # noqa: ANN201
    """Masking at a rate drawn per sequence from U(lo, hi), always [MASK] (diffusion-style)."""

    def mask(batch: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        rates = lo + (hi - lo) * torch.rand(batch.size(0), generator=g)
        chosen = (torch.rand(batch.shape, generator=g) < rates[:, None]) & (batch >= N_SPECIAL)
        return _apply(batch, chosen)

    return mask


def spans(rate: float, length: int):  # noqa: ANN201
    """Masking in spans of `length` tokens covering about `rate` of the text, always [MASK]."""

    def mask(batch: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        starts = torch.rand(batch.shape, generator=g) < rate / length
        chosen = starts.clone()
        for k in range(1, length):  # each start covers the next length - 1 tokens too
            chosen[:, k:] |= starts[:, :-k]
        return _apply(batch, chosen & (batch >= N_SPECIAL))

    return mask


def _apply(batch: torch.Tensor, chosen: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    labels = torch.where(chosen, batch, torch.full_like(batch, IGNORE))
    return torch.where(chosen, torch.full_like(batch, MASK_ID), batch), labels


class VariantTrainer(Trainer):
    """tinylm's trainer with another way of choosing the hidden tokens."""

    masking = None

    def _task(self, batch: torch.Tensor) -> tuple[Task, int]:
        inputs, labels = type(self).masking(batch, self.mask_gen)
        return labelled_task(inputs, labels), batch.numel()


class SomeStepsCausal(Trainer):
    """A bidirectional model some of whose steps are causal ones (attention flag on, next-token
    loss: every position teaches); `_causal_now` says which."""

    def _causal_now(self) -> bool:
        raise NotImplementedError

    def _task(self, batch: torch.Tensor) -> tuple[Task, int]:
        causal = self._causal_now()
        for block in self.model.blocks:
            block.attn.causal = causal
        if causal:
            return causal_task(batch), batch[:, 1:].numel()
        return super()._task(batch)


class CausalFirst(SomeStepsCausal):
    """Causal first, then masked for the rest of the time: the adaptation of an autoregressive
    model into a masked or diffusion one (DiffuLLaMA, Dream), inside one run."""

    share = 0.5  # of the training time spent causal
    started: float | None = None

    def _causal_now(self) -> bool:
        if self.started is None:
            self.started = time.perf_counter()
        return time.perf_counter() - self.started < self.share * self.cfg.time_limit


def causal_first(share: float) -> type[Trainer]:
    return type(f"CausalFirst{share:g}", (CausalFirst,), {"share": share})


class CausalEvery(SomeStepsCausal):
    """Every k-th step causal from the start: GPT-BERT's hybrid (Charpentier and Samuel, 2024),
    where the weights stay bidirectional on the other steps."""

    every = 4
    calls = 0

    def _causal_now(self) -> bool:
        self.calls += 1
        return self.calls % self.every == 0


def causal_every(k: int) -> type[Trainer]:
    return type(f"CausalEvery{k}", (CausalEvery,), {"every": k})


class FallingRate(Trainer):
    """Masked (80/10/10) at a rate falling linearly over the time, from `high` to `low`: the
    dynamic masking schedule of Ankner et al. (2023)."""

    high, low = 0.5, 0.2
    started: float | None = None

    def _task(self, batch: torch.Tensor) -> tuple[Task, int]:
        if self.started is None:
            self.started = time.perf_counter()
        done = min(1.0, (time.perf_counter() - self.started) / self.cfg.time_limit)
        masking = replace(self.cfg.masking, rate=self.high + (self.low - self.high) * done)
        return masked_task(batch, self.mcfg.vocab_size, masking, self.mask_gen), batch.numel()


def falling_rate(high: float, low: float) -> type[Trainer]:
    return type(f"FallingRate{high:g}-{low:g}", (FallingRate,), {"high": high, "low": low})


def zero_init(cfg: ModelConfig) -> Transformer:
    """Every block starts as the identity: its two output projections start at 0."""
    model = Transformer(cfg)
    for block in model.blocks:
        nn.init.zeros_(block.attn.proj.weight)
        nn.init.zeros_(block.mlp.proj.weight)
    return model


class HeadTransformer(Transformer):
    """tinylm's model with BERT's masked-LM head transform (dense, GELU, LayerNorm) before the
    tied head, as transformers' EsmForMaskedLM has it (issue 13 asked whether to adopt it)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)
        C = cfg.d_model
        self.transform = nn.Sequential(
            nn.Linear(C, C, bias=False), nn.GELU(), nn.LayerNorm(C, bias=False)
        )
        nn.init.normal_(self.transform[0].weight, mean=0.0, std=0.02)

    def forward(self, idx, select=None, cache=None, logits=True):  # noqa: ANN001, ANN201
        h = self.hidden(idx, cache)
        h = self.transform(h if select is None else h[select])
        return self.head(h) if logits else h  # logits=False: the sliced head losses apply it


def shallow(objective: str, n_layer: int, batch: int) -> tuple:
    """A variant of the tiny preset with `n_layer` blocks instead of 4 and `batch` windows a
    step (masked: 40 %)."""
    masking = MaskingConfig(rate=0.4) if objective == "masked" else None
    build = lambda cfg: Transformer(replace(cfg, n_layer=n_layer))  # noqa: E731
    return (objective, masking, "tiny", build, {"batch_size": batch})


# name -> (objective, masking config or custom masking, size[, model builder, train fields])
HEAD = HeadTransformer
VARIANTS = {
    "causal": ("causal", None, "tiny"),
    "masked-30": ("masked", MaskingConfig(rate=0.3), "tiny"),
    "masked-40": ("masked", MaskingConfig(rate=0.4), "tiny"),
    "masked-50": ("masked", MaskingConfig(rate=0.5), "tiny"),
    "masked-30-allmask": ("masked", MaskingConfig(rate=0.3, p_mask=1.0, p_random=0.0), "tiny"),
    "masked-U15-60": ("masked", per_sequence_rates(0.15, 0.6), "tiny"),
    "masked-U05-95": ("masked", per_sequence_rates(0.05, 0.95), "tiny"),
    "masked-span3-30": ("masked", spans(0.3, 3), "tiny"),
    "diffusion": ("diffusion", None, "tiny"),
    "masked-30-small": ("masked", MaskingConfig(rate=0.3), "small"),
    # the masked-LM head transform (dense, GELU, LayerNorm before the tied head), issue 13
    "masked-30-head": ("masked", MaskingConfig(rate=0.3), "tiny", HEAD),
    "masked-40-head": ("masked", MaskingConfig(rate=0.4), "tiny", HEAD),
    "diffusion-head": ("diffusion", None, "tiny", HEAD),
    # a causal warm start for half or 70 % of the time, then masked (30 %)
    "causal-then-masked-50": ("masked", MaskingConfig(rate=0.3), "tiny", {}, {}, causal_first(0.5)),
    "causal-then-masked-70": ("masked", MaskingConfig(rate=0.3), "tiny", {}, {}, causal_first(0.7)),
    # learning rates 1.5 and 2 times the default for both optimizers
    "masked-30-lr1.5": (
        "masked",
        MaskingConfig(rate=0.3),
        "tiny",
        {},
        {"lr": 4.5e-3, "muon_lr": 0.03},
    ),
    "masked-30-lr2": (
        "masked",
        MaskingConfig(rate=0.3),
        "tiny",
        Transformer,
        {"lr": 6e-3, "muon_lr": 0.04},
    ),
    # session 5: smaller batches (more steps), a falling rate, the hybrid, zero-init projections
    "masked-30-b32": ("masked", MaskingConfig(rate=0.3), "tiny", {}, {"batch_size": 32}),
    "masked-40-b32": ("masked", MaskingConfig(rate=0.4), "tiny", {}, {"batch_size": 32}),
    "masked-falling-50-20": ("masked", MaskingConfig(), "tiny", {}, {}, falling_rate(0.5, 0.2)),
    "masked-30-hybrid-4": (
        "masked",
        MaskingConfig(rate=0.3),
        "tiny",
        {},
        {},
        causal_every(4),
    ),
    "masked-30-hybrid-2": (
        "masked",
        MaskingConfig(rate=0.3),
        "tiny",
        {},
        {},
        causal_every(2),
    ),
    "masked-30-zeroinit": ("masked", MaskingConfig(rate=0.3), "tiny", zero_init),
    "masked-40-b16": ("masked", MaskingConfig(rate=0.4), "tiny", {}, {"batch_size": 16}),
    "masked-50-b32": ("masked", MaskingConfig(rate=0.5), "tiny", {}, {"batch_size": 32}),
    "masked-40-b32-2layers": shallow("masked", 2, 32),
    "masked-40-b32-3layers": shallow("masked", 3, 32),
    "masked-40-b8-2layers": shallow("masked", 2, 8),
    "masked-40-b16-1layer": shallow("masked", 1, 16),
    "masked-40-b16-2layers": shallow("masked", 2, 16),
    "causal-b16-2layers": shallow("causal", 2, 16),
    "diffusion-b32": ("diffusion", None, "tiny", {}, {"batch_size": 32}),
    # session 6: in 10 minutes 40 % hid too much for one blank (README): end nearer to one blank
    "masked-40-to-15-b32": (
        "masked",
        MaskingConfig(rate=0.4),
        "tiny",
        {},
        {"batch_size": 32},
        falling_rate(0.4, 0.15),
    ),
}


def variant_setup(
    name: str, vocab_size: int, budget: float, seed: int, shape: dict | None = None
) -> tuple[ModelConfig, TrainConfig, Callable[[ModelConfig], Transformer], type[Trainer]]:
    """What variant `name` trains: its model config, train config, model builder and trainer.
    `shape` overrides the size preset's (tests run a tinier model)."""
    objective, masking, size, *rest = VARIANTS[name]
    build = rest[0] if rest and rest[0] else Transformer
    train_fields = rest[1] if len(rest) > 1 else {}
    dims = {**SIZES[size], **(shape or {})}
    cfg = ModelConfig(vocab_size=vocab_size, objective=objective, dropout=0.0, **dims)
    fields = {"batch_size": BATCH_SIZES[size], **train_fields}
    tcfg = TrainConfig(time_limit=budget, seed=seed, **fields)
    if isinstance(masking, MaskingConfig):
        tcfg = replace(tcfg, masking=masking)
    trainer_cls = Trainer
    if callable(masking):
        trainer_cls = type(f"Trainer_{name}", (VariantTrainer,), {"masking": staticmethod(masking)})
    if len(rest) > 2:
        trainer_cls = rest[2]
    return cfg, tcfg, build, trainer_cls


def settled(model: Transformer, cfg: ModelConfig) -> Transformer:
    """The model with its own attention flag back on every block: a hybrid may end on a causal
    step."""
    for block in model.blocks:
        block.attn.causal = cfg.causal
    return model
