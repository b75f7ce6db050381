"""Inference settings and their defaults; standard library only, so `--help` can show them."""

from __future__ import annotations

from dataclasses import dataclass

from tinylm.bounds import SEED, Bounds, check_fields

SHORTLIST = 32  # candidates rescored per blank; ranks below it are rarely worth the forwards
ROUNDS = 10  # mask-predict refinement rounds per chunk of new tokens
# a million tokens is a corpus' worth of text (the bundled Shakespeare is ~1.1 M characters);
# a hard cap keeps a typo like -n 10000000 from hours of work held in memory (JSON, --no-stream)
MAX_NEW_TOKENS = 1_000_000


# the settings of SamplingConfig that have a range (also the ranges of `generate`'s options)
SAMPLING_BOUNDS = {
    "max_new_tokens": Bounds(
        0, MAX_NEW_TOKENS, says=f"is out of range; use 0 to {MAX_NEW_TOKENS:,} (a corpus' worth)"
    ),
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
        check_fields(self, SAMPLING_BOUNDS)


# the sampling setting of every preview: the sample after training and compare's generations
PREVIEW = SamplingConfig(temperature=0.8, top_k=40)


# how much work: at least one of each (also the ranges of `compare`'s options)
COMPARE_BOUNDS = {
    **{n: Bounds(1) for n in ("blanks", "max_tokens", "samples", "shortlist")},
    "new_tokens": Bounds(1, MAX_NEW_TOKENS, says=f"is out of range; use 1 to {MAX_NEW_TOKENS:,}"),
    "seed": SEED,
}


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

    def __post_init__(self) -> None:
        check_fields(self, COMPARE_BOUNDS)


# the ranges of the other numeric options of `generate`, `fill-mask` and `eval`
GENERATE_BOUNDS = {"num_samples": Bounds(1), "rounds": Bounds(1), "seed": SEED}
FILL_MASK_BOUNDS = {"top_k": Bounds(1), "shortlist": Bounds(1)}
EVAL_BOUNDS = {"max_tokens": Bounds(2)}  # one token predicts the next: two is the least scored
