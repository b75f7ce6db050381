"""`tinylm train`'s options, read once into a typed request before anything loads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinylm.cli.train import RESUMABLE
from tinylm.data.options import ReadOptions, TokenizeOptions
from tinylm.errors import UsageError
from tinylm.train.config import (
    DEFAULT_TIME,
    MaskingConfig,
    TrainConfig,
    default_batch_size,
    default_batch_warmup,
)
from tinylm.train.setup import check_data_exists, parse_duration

SHAPE_OPTIONS = ("n_layer", "n_head", "d_model", "block_size", "dropout")
# options named after the TrainConfig fields they set
TRAIN_OPTIONS = (
    "grad_accum", "optimizer", "lr", "muon_lr", "weight_decay", "repeat_dropout", "warmup",
    "eval_every",
    "eval_seconds", "save_every", "seed",
)  # fmt: skip
# options a resumed run may change (with its budget): how often it evaluates and saves
CADENCE = ("eval_every", "eval_seconds", "save_every")
# options the request carries as they are
PLAIN_OPTIONS = (
    "objective", "size", "device", "precision", "compile", "out", "force",
    "resume", "init_from", "sample", "quiet",
)  # fmt: skip


@dataclass(frozen=True)
class TrainRequest:
    """What `tinylm train` was asked to do: typed and checked before anything loads."""

    data: str | None
    shape: dict[str, int | float]  # architecture options given; the size preset sets the rest
    train: TrainConfig | None  # None when resuming: the run's saved configuration continues
    budget: dict[str, float | int]  # the budget given (it replaces a resumed run's)
    cadence: dict[str, float]  # the CADENCE options given (a resumed run takes them)
    objective: str
    size: str
    tokenize: TokenizeOptions  # for raw-text data
    device: str
    precision: str
    compile: bool | None
    out: Path | None
    force: bool
    resume: Path | None
    init_from: Path | None
    sample: bool
    quiet: bool


def request_from_options(
    data: str | None, opts: dict[str, Any], given: tuple[str, ...]
) -> TrainRequest:
    """The command's option values (click has checked their ranges) and the flags (and DATA)
    `given` explicitly; conflicts refused here."""
    shape = {n: opts[n] for n in SHAPE_OPTIONS if opts[n] is not None}
    for flag in ("resume", "init_from"):  # a mistyped path is an argument problem: exit 2
        if opts[flag] is not None and not opts[flag].exists():
            raise UsageError(f"--{flag.replace('_', '-')} {opts[flag]} does not exist.")
    if opts["resume"] and opts["init_from"]:
        raise UsageError("--resume and --init-from do not mix: resume continues a run exactly.")
    if opts["resume"]:
        _check_resumable(given)
    check_data_exists(data)
    budget = {
        "time_limit": parse_duration(opts["time_"]) if opts["time_"] else None,
        "max_steps": opts["max_steps"],
        "max_tokens": opts["max_tokens"],
    }
    budget = {k: v for k, v in budget.items() if v is not None}
    return TrainRequest(
        data=data,
        shape=shape,
        train=None if opts["resume"] else _train_config(opts, budget),
        budget=budget,
        cadence={k: opts[k] for k in CADENCE if _flag(k) in given},
        tokenize=TokenizeOptions(
            kind=opts["kind"],
            vocab_size=opts["vocab_size"],
            read=ReadOptions(errors=opts["errors"]),
        ),
        **{k: opts[k] for k in PLAIN_OPTIONS},
    )


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _check_resumable(given: tuple[str, ...]) -> None:
    """A resume continues the run as it began: an option it fixed would be silently ignored."""
    fixed = [flag for flag in given if flag not in (*RESUMABLE, "--resume")]
    if fixed:
        raise UsageError(
            f"--resume continues the run as it was set up; drop {fixed[0]} (a resume may change "
            f"only {', '.join(RESUMABLE)})."
        )


def _train_config(opts: dict[str, Any], budget: dict[str, float | int]) -> TrainConfig:
    """A new run's configuration; the size and objective set the batch, and no budget means the
    default time."""
    p_mask, p_random, _ = opts["mask_replace"]
    batch = opts["batch_size"] or default_batch_size(opts["size"], opts["objective"])
    warm = opts["batch_warmup"]
    return TrainConfig(
        batch_size=batch,
        batch_warmup=default_batch_warmup(opts["objective"]) if warm is None else warm,
        masking=MaskingConfig(rate=opts["mask_rate"], p_mask=p_mask, p_random=p_random),
        **{k: opts[k] for k in TRAIN_OPTIONS},
        **(budget or {"time_limit": DEFAULT_TIME}),
    )
