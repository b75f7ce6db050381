"""Inference settings and their defaults; standard library only, so `--help` can show them."""

from __future__ import annotations

from dataclasses import dataclass

from tinylm.bounds import SEED, Bounds, check_fields

SHORTLIST = 32  # candidates rescored per blank; ranks below it are rarely worth the forwards
REMASKING = ("confidence", "random", "left-to-right")  # which masked tokens a step commits
MAX_BLOCK = 32  # LLaDA's blocks of new tokens; a tiny model's context is 64
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
    samples: int = 8  # prompts continued; compare shows the first 3, the judge reads all
    new_tokens: int = 100
    shortlist: int = SHORTLIST
    seed: int = 0

    def __post_init__(self) -> None:
        check_fields(self, COMPARE_BOUNDS)


# the ranges of the other numeric options of `generate`, `fill-mask` and `eval`
GENERATE_BOUNDS = {
    "num_samples": Bounds(1),
    "steps": Bounds(1),
    "block_length": Bounds(1),
    "seed": SEED,
}
FILL_MASK_BOUNDS = {"top_k": Bounds(1), "shortlist": Bounds(1)}
EVAL_BOUNDS = {"max_tokens": Bounds(2)}  # one token predicts the next: two is the least scored


@dataclass(frozen=True)
class UnmaskConfig:
    """How the canvas is unmasked: block length in tokens, model calls per block, which commit.

    None: blocks of half the model's context (at most MAX_BLOCK), one token committed per step.
    Random commits (MDLM's reverse process, in a random order) by default: on a 10-minute
    diffusion model of the bundled corpus (bench/unmask_bench.py) they gave judge perplexity 29.4
    and distinct-2 90.3 %, where the surest-first order (LLaDA) gave 7.8 and 49.6 %:
    fluent-looking loops of short lines. An equal share each step, rather than each position
    with probability 1 / steps left, was judged better on four runs (two corpora, 2 and 10
    minutes), at equal distinct-2 after 2 minutes and 1-2.5 points less after 10 (README).
    """

    block_length: int | None = None
    steps: int | None = None
    remasking: str = "random"

    def __post_init__(self) -> None:
        for name in ("block_length", "steps"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if self.remasking not in REMASKING:
            raise ValueError(f"remasking must be one of {REMASKING}, got {self.remasking!r}")

    def resolve(self, context: int) -> tuple[int, int]:
        """(block length, steps per block) for a model of `context` tokens."""
        block = self.block_length or min(MAX_BLOCK, context // 2)
        steps = self.steps or block
        if block >= context:
            raise ValueError(
                f"block_length ({block}) must be shorter than the model's context "
                f"({context} tokens), to leave room for what came before"
            )
        if steps > block or block % steps:
            raise ValueError(
                f"steps ({steps}) must divide block_length ({block}), so each step commits "
                "the same number of tokens"
            )
        return block, steps
