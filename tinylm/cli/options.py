"""Options and messages that several inference commands share, declared once."""

from __future__ import annotations

import math
from collections.abc import Callable

import click

from tinylm.infer.config import Bounds


class FiniteFloat(click.FloatRange):
    """A float in a range that also refuses nan and inf (click's FloatRange lets nan through)."""

    def convert(self, value, param, ctx):  # noqa: ANN001, ANN201
        value = super().convert(value, param, ctx)
        if not math.isfinite(value):
            self.fail(f"{value} is not a finite number.", param, ctx)
        return value


def in_bounds(bounds: Bounds, integer: bool = False) -> click.ParamType:
    """The click type of a setting whose range the library owns: an int or a finite float."""
    kind = click.IntRange if integer else FiniteFloat
    return kind(bounds.low, bounds.high, min_open=bounds.low_open, max_open=bounds.high_open)


checkpoint_option: Callable = click.option(
    "--checkpoint",
    type=click.Choice(["best", "last"]),
    default="best",
    show_default=True,
    help="Which checkpoint of a run directory.",
)


def device_option(default: str = "auto", why: str = "") -> Callable:
    """--device, with a note on why a command defaults to what it does."""
    return click.option(
        "--device",
        default=default,
        show_default=True,
        help=f"auto, cpu, cuda, cuda:N or mps{f' ({why})' if why else ''}.",
    )


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
