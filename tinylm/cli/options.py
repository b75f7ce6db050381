"""Options and messages that several inference commands share, declared once."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tinylm.bounds import Bounds
from tinylm.data.options import ERRORS, ReadOptions
from tinylm.device_options import DEFAULT_DEVICE, DEVICES

if TYPE_CHECKING:  # the heavy modules load inside commands, so `--help` stays instant
    import torch
    from tokenizers import Tokenizer

    from tinylm.checkpoint import Checkpoint


def _finite(type_: click.ParamType, value, param, ctx) -> float:  # noqa: ANN001
    """Refuse nan and inf, which click's FloatRange lets through."""
    if not math.isfinite(value):
        type_.fail(f"{value} is not a finite number.", param, ctx)
    return value


class FiniteFloat(click.FloatRange):
    """A float in a range that also refuses nan and inf."""

    def convert(self, value, param, ctx):  # noqa: ANN001, ANN201
        return _finite(self, super().convert(value, param, ctx), param, ctx)


class Phrased(click.ParamType):
    """A number held to Bounds that phrase their own requirement (e.g. "is out of range; use 1 to
    1,000,000"): click's range wording would not say it."""

    def __init__(self, bounds: Bounds, integer: bool) -> None:
        self.bounds, self.base = bounds, click.INT if integer else click.FLOAT
        self.name = self.base.name

    def convert(self, value, param, ctx):  # noqa: ANN001, ANN201
        number = self.base.convert(value, param, ctx)
        if self.base is click.FLOAT:
            _finite(self, number, param, ctx)
        problem = self.bounds.problem(number)
        if problem is not None:
            self.fail(problem, param, ctx)
        return number


def in_bounds(bounds: Bounds, integer: bool = False) -> click.ParamType:
    """The click type of a number whose range a Bounds table owns: an int or a finite float."""
    if bounds.says is not None:
        return Phrased(bounds, integer)
    kind = click.IntRange if integer else FiniteFloat
    return kind(bounds.low, bounds.high, min_open=bounds.low_open, max_open=bounds.high_open)


checkpoint_option: Callable = click.option(
    "--checkpoint",
    type=click.Choice(["best", "last"]),
    default="best",
    show_default=True,
    help="Which checkpoint of a run directory.",
)


def errors_option(what: str) -> Callable:
    """--errors for a command that reads text: what invalid UTF-8 in `what` does."""
    return click.option(
        "--errors",
        type=click.Choice(ERRORS),
        default=ReadOptions.errors,
        show_default=True,
        help=f"Invalid UTF-8 in {what}: stop with an error, or replace it with U+FFFD.",
    )


def device_option(default: str = DEFAULT_DEVICE, why: str = "") -> Callable:
    """--device, with a note on why a command defaults to what it does."""
    return click.option(
        "--device",
        default=default,
        show_default=True,
        help=f"{DEVICES}{f' ({why})' if why else ''}.",
    )


def load_model(run: Path, which: str, device: torch.device) -> tuple[Checkpoint, Tokenizer]:
    """The checkpoint and tokenizer of RUN; a note on stderr when best/ was missing and last/
    stands in for it (a run stopped before its first evaluation)."""
    from tinylm.infer.loading import fallback_note, load_for_inference

    ckpt, tok = load_for_inference(run, which, device)
    note = fallback_note(run, which, ckpt.path)
    if note:
        click.echo(note, err=True)
    return ckpt, tok


def encode_or_warn(tok, text: str, what: str) -> list[int]:  # noqa: ANN001
    """Token ids of `text`; a warning on stderr when pieces of it became [UNK]."""
    from tinylm.infer.loading import encode_text

    ids, unknown = encode_text(tok, text)
    if unknown:
        click.echo(
            f"Warning: {unknown} piece(s) of the {what} are not in the tokenizer's "
            "vocabulary and became [UNK].",
            err=True,
        )
    return ids
