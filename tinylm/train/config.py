"""What a training run is, apart from the architecture: presets, batch, optimizer, masking, budget.

Standard library only, so `tinylm train --help` can show these defaults without importing torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from tinylm.bounds import SEED, Bounds, check_fields

# Sized for a 2-core laptop CPU; tokens/s measured with `bench/train_bench.py` (see README).
SIZES: dict[str, dict] = {
    "tiny": dict(n_layer=4, n_head=4, d_model=128, block_size=64),
    "small": dict(n_layer=6, n_head=6, d_model=192, block_size=128),
    "base": dict(n_layer=6, n_head=6, d_model=384, block_size=256),
}
DEFAULT_SIZE = "tiny"
# windows per step for each preset: enough tokens per step for Muon (>= ~16 x width), few seconds
BATCH_SIZES = {"tiny": 64, "small": 32, "base": 32}
# A bidirectional (masked or diffusion) model learns only from the tokens it hides; in a fixed
# time, twice the steps of half the windows taught the tiny one more (bench/blanks_bench.py, 2
# minutes, seeds 0 and 1: masked -0.25 nats at the fixed val masks, diffusion -0.22 and -0.47 on
# its bound, +2 to +4.5 points of blanks). Measured at tiny only; the others keep theirs (Muon's
# ~16 x width tokens per step). In 10 minutes on the Bible 32 and 64 tied (masked at 30 %:
# blanks 43.5 and 45.0 %, bound 1.700 both).
BIDIRECTIONAL_BATCH_SIZES = {**BATCH_SIZES, "tiny": 32}
# On a CPU a step's batch runs as slices of about this many tokens, one forward and backward
# each: the activations alive at once shrink with the slice (peak RSS of the default run:
# bench/memory_bench.py) and a CPU's matmuls are no slower at 1024 rows. Same loss and gradients.
CPU_SLICE_TOKENS = 1024
OPTIMIZERS = ("muon", "adamw")  # muon: Muon for block matrices + AdamW for the rest
DEFAULT_TIME = 120.0  # seconds: `tinylm train` with no budget finishes in about two minutes
# evaluations spaced by time take at most this share of the wall clock: the next one waits at
# least 1 / EVAL_SHARE times as long as the last one took (bench/memory_bench.py measures it)
EVAL_SHARE = 0.05
# what a new model is unless told otherwise (ModelConfig has no defaults: these are the only ones)
OBJECTIVES = ("causal", "masked", "diffusion")  # what `tinylm train` trains (model.OBJECTIVES)
DEFAULT_OBJECTIVE = "causal"
DROPOUT = 0.0  # runs are short: dropout would only slow learning
# A causal model's dropout rises to repeat_dropout between these epochs of its train split
# (tinylm/train/repeat.py). Measured with bench/long_run_bench.py on the bundled corpus: with no
# dropout a 10-minute run ended 20 % above its best val (best at 8 epochs); rising to 0.2 its
# val fell to the end. The ramp starts after the ~5 epochs a default 2-minute run sees there,
# so that run is unchanged.
REPEAT_EPOCHS = (6.0, 14.0)
REPEAT_DROPOUT = 0.2
# During the first batch_warmup of the budget a step takes this fraction of the batch: more
# updates for the same tokens while the loss is far from its noise floor. A causal run warms up
# for its first 20 %: on the default 2-minute run of the bundled corpus final val was 0.034 nats
# lower on average over four back-to-back pairs (three of four lower; README). Masked runs lost
# 0.16-0.19 nats by it (two seeds): off; so for diffusion runs, not measured.
WARMUP_BATCH_SHARE = 0.25
BATCH_WARMUPS = {"causal": 0.2}
# the ranges of the shape options; ModelConfig checks its own again (it is also read from files)
SHAPE_BOUNDS = {
    **{name: Bounds(1) for name in ("n_layer", "n_head", "d_model", "block_size")},
    "dropout": Bounds(0.0, 1.0, high_open=True),
}
MASKING_BOUNDS = {
    "rate": Bounds(0.0, 1.0, low_open=True, high_open=True),
    "p_mask": Bounds(0.0, 1.0),
    "p_random": Bounds(0.0, 1.0),
}
TRAIN_BOUNDS = {  # the budget and save_every may be unset (None)
    "batch_size": Bounds(1),
    "grad_accum": Bounds(1),
    "lr": Bounds(0.0, low_open=True),
    "muon_lr": Bounds(0.0, low_open=True),
    "weight_decay": Bounds(0.0),
    "repeat_dropout": Bounds(0.0, 1.0, high_open=True),
    "batch_warmup": Bounds(0.0, 1.0, high_open=True),
    "warmup": Bounds(0),
    "lr_final": Bounds(0.0, 1.0),
    "time_limit": Bounds(0.0, low_open=True),
    "max_steps": Bounds(1),
    "max_tokens": Bounds(1),
    "eval_every": Bounds(1),
    "eval_seconds": Bounds(0.0),  # 0: evaluations by steps only
    "log_every": Bounds(1),
    "eval_windows": Bounds(1),
    "save_every": Bounds(1),
    "seed": SEED,
}


def default_batch_warmup(objective: str) -> float:
    """The share of the budget at a reduced batch when --batch-warmup is not given."""
    return BATCH_WARMUPS.get(objective, 0.0)


def default_batch_size(size: str, objective: str) -> int:
    """Windows per step when --batch-size is not given: the size's, a bidirectional run's own."""
    return (BATCH_SIZES if objective == "causal" else BIDIRECTIONAL_BATCH_SIZES)[size]


@dataclass(frozen=True)
class MaskingConfig:
    """How tokens are hidden: the rate, and what a chosen token becomes (mask / random / kept)."""

    # 40 % tied 30 % in 2 minutes (blanks on 561 passages at 32 windows, two seeds: 30.5 / 30.8
    # against 30.1 / 31.7 %) and lost in 10 minutes on the Bible (34.0 against 45.0 % at 64
    # windows, pseudo-likelihood 1.445 against 1.035 bits per byte at the same val loss).
    rate: float = 0.3
    p_mask: float = 0.8
    p_random: float = 0.1

    def __post_init__(self) -> None:
        check_fields(self, MASKING_BOUNDS, message="mask {name} {problem}")
        if self.p_mask + self.p_random > 1.0:
            raise ValueError(
                f"mask/random shares must sum to <= 1, got {self.p_mask}, {self.p_random}"
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
    # causal: dropout reached as the train split repeats (REPEAT_EPOCHS); 0 keeps the model's
    repeat_dropout: float = REPEAT_DROPOUT
    batch_warmup: float = 0.0  # share of the budget at WARMUP_BATCH_SHARE of the batch; 0: off
    warmup: int = 50
    lr_final: float = 0.1  # the schedule ends at this fraction of the peak learning rate
    grad_clip: float = 1.0
    time_limit: float | None = None  # seconds of wall clock
    max_steps: int | None = None
    max_tokens: int | None = None
    eval_every: int = 250
    # With a time budget, also evaluate every this many seconds: 7 val points in the default 2
    # minutes (one at step 250) at ~2 % of the time (bench/memory_bench.py). Budgets of steps or
    # tokens alone evaluate by steps only, so the same command keeps the same evals and best/.
    eval_seconds: float = 20.0
    log_every: int = 10
    eval_windows: int = 256
    save_every: int | None = None
    seed: int = 1337
    masking: MaskingConfig = field(default_factory=MaskingConfig)

    def __post_init__(self) -> None:
        check_fields(self, TRAIN_BOUNDS)
        if self.time_limit is None and self.max_steps is None and self.max_tokens is None:
            raise ValueError("a budget is needed: time_limit, max_steps or max_tokens")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")

    @property
    def warmup_batch_size(self) -> int:
        """Windows a step takes during the batch warm-up."""
        return max(1, round(self.batch_size * WARMUP_BATCH_SHARE))

    def to_dict(self) -> dict:
        return asdict(self)
