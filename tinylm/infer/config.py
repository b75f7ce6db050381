"""Inference settings and their defaults; standard library only, so `--help` can show them."""

from __future__ import annotations

from dataclasses import dataclass

SHORTLIST = 32  # candidates rescored per blank; ranks below it are rarely worth the forwards
ROUNDS = 10  # mask-predict refinement rounds per chunk of new tokens


@dataclass(frozen=True)
class Bounds:
    """The allowed values of a number: from `low` up to `high` (None: no end), ends included
    unless open. The library checks with it and the CLI's option types are built from it."""

    low: float
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, x: float) -> bool:
        above = x > self.low if self.low_open else x >= self.low
        below = self.high is None or (x < self.high if self.high_open else x <= self.high)
        return above and below  # nan is in no range: every comparison with it is false

    def __str__(self) -> str:
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        left = "(" if self.low_open else "["
        right = ")" if self.high_open else "]"
        return f"in {left}{self.low:g}, {self.high:g}{right}"


# the settings of SamplingConfig that have a range (also the ranges of `generate`'s options)
SAMPLING_BOUNDS = {
    "max_new_tokens": Bounds(0),
    "temperature": Bounds(0.0, 100.0),
    "top_k": Bounds(0),
    "top_p": Bounds(0.0, 1.0, low_open=True),
    "min_p": Bounds(0.0, 1.0, high_open=True),
    "repetition_penalty": Bounds(0.0, 100.0, low_open=True),
}


@dataclass(frozen=True)
class SamplingConfig:
    """How the next token is chosen."""

    max_new_tokens: int = 200
    temperature: float = 0.8  # 0 = greedy
    top_k: int = 0  # 0 = off
    top_p: float = 1.0  # 1 = off
    min_p: float = 0.0  # 0 = off
    repetition_penalty: float = 1.0  # 1 = off
    stop_at_eos: bool = True

    def __post_init__(self) -> None:
        for name, bounds in SAMPLING_BOUNDS.items():
            value = getattr(self, name)
            if value not in bounds:
                raise ValueError(f"{name} must be {bounds}, got {value}")


# the sampling setting of every preview: the sample after training and compare's generations
PREVIEW = SamplingConfig(temperature=0.8, top_k=40)


@dataclass(frozen=True)
class CompareOptions:
    """How much work `tinylm compare` gives each model and each measurement."""

    time: str = "2m"  # with --train: each model's wall-clock training budget
    blanks: int = 200
    max_tokens: int = 2048  # tokens scored for bits per byte
    samples: int = 3
    new_tokens: int = 100
    shortlist: int = SHORTLIST
    seed: int = 0
