"""What a training run is, apart from the architecture: presets, batch, optimizer, masking, budget.

Standard library only, so `tinylm train --help` can show these defaults without importing torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

# Sized for a 2-core laptop CPU; tokens/s measured with `bench/train_bench.py` (see README).
SIZES: dict[str, dict] = {
    "tiny": dict(n_layer=4, n_head=4, d_model=128, block_size=64),
    "small": dict(n_layer=6, n_head=6, d_model=192, block_size=128),
    "base": dict(n_layer=6, n_head=6, d_model=384, block_size=256),
}
DEFAULT_SIZE = "tiny"
# windows per step for each preset: enough tokens per step for Muon (>= ~16 x width), few seconds
BATCH_SIZES = {"tiny": 64, "small": 32, "base": 32}
OPTIMIZERS = ("muon", "adamw")  # muon: Muon for block matrices + AdamW for the rest
DEFAULT_TIME = 120.0  # seconds: `tinylm train` with no budget finishes in about two minutes


@dataclass(frozen=True)
class MaskingConfig:
    """How tokens are hidden: the rate, and what a chosen token becomes (mask / random / kept)."""

    rate: float = 0.3
    p_mask: float = 0.8
    p_random: float = 0.1

    def __post_init__(self) -> None:
        if not 0.0 < self.rate < 1.0:
            raise ValueError(f"mask rate must be in (0, 1), got {self.rate}")
        if self.p_mask < 0 or self.p_random < 0 or self.p_mask + self.p_random > 1.0:
            raise ValueError(
                "mask/random shares must be >= 0 and sum to <= 1, "
                f"got {self.p_mask}, {self.p_random}"
            )


@dataclass(frozen=True)
class TrainConfig:
    """Everything about a run that is not the architecture."""

    batch_size: int = BATCH_SIZES[DEFAULT_SIZE]
    grad_accum: int = 1
    optimizer: str = "muon"
    lr: float = 3e-3  # AdamW: embeddings and gains (and everything when optimizer="adamw")
    muon_lr: float = 0.02
    weight_decay: float = 0.0
    warmup: int = 50
    lr_final: float = 0.1  # the schedule ends at this fraction of the peak learning rate
    grad_clip: float = 1.0
    time_limit: float | None = None  # seconds of wall clock
    max_steps: int | None = None
    max_tokens: int | None = None
    eval_every: int = 250
    log_every: int = 10
    eval_windows: int = 256
    save_every: int | None = None
    seed: int = 1337
    masking: MaskingConfig = field(default_factory=MaskingConfig)

    def __post_init__(self) -> None:
        for name in ("batch_size", "grad_accum", "eval_every", "eval_windows", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("time_limit", "max_steps", "max_tokens", "save_every"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        if self.time_limit is None and self.max_steps is None and self.max_tokens is None:
            raise ValueError("a budget is needed: time_limit, max_steps or max_tokens")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.lr <= 0 or self.muon_lr <= 0 or self.weight_decay < 0 or self.warmup < 0:
            raise ValueError("lr and muon_lr must be > 0; weight_decay and warmup >= 0")
        if not 0.0 <= self.lr_final <= 1.0:
            raise ValueError(f"lr_final must be in [0, 1], got {self.lr_final}")

    def to_dict(self) -> dict:
        return asdict(self)
