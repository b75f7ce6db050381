"""The allowed range of every numeric setting, written once; standard library only.

Each config dataclass keeps a table `{field: Bounds}` beside it and checks itself with
`check_fields` in `__post_init__`; the CLI builds each numeric option's click type from the same
table (`tinylm.cli.options.in_bounds`), so a bad value is refused before anything loads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

MESSAGE = "{name} {problem}"  # how check_fields says what is wrong, unless told otherwise


@dataclass(frozen=True)
class Bounds:
    """The allowed values of a number: from `low` up to `high` (None: no end), ends included
    unless open. `says` phrases the requirement where the default wording will not do."""

    low: float
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    says: str | None = None  # e.g. "is out of range; use 1 to 1,000,000"

    def __contains__(self, x: float) -> bool:
        if not math.isfinite(x):  # nan and inf are in no range, even an open-ended one
            return False
        above = x > self.low if self.low_open else x >= self.low
        below = self.high is None or (x < self.high if self.high_open else x <= self.high)
        return above and below

    def __str__(self) -> str:
        if self.high is None:
            return f"{'more than' if self.low_open else 'at least'} {self.low:g}"
        left = "(" if self.low_open else "["
        right = ")" if self.high_open else "]"
        return f"in {left}{self.low:g}, {self.high:g}{right}"

    def problem(self, value: float | None) -> str | None:
        """What is wrong with `value` ('0 must be at least 1'); None when it is fine or unset."""
        if value is None or value in self:
            return None
        return f"{value} {self.says or f'must be {self}'}"


# every seed: numpy takes no negative one, torch none past 64 bits, and the trainer derives its
# streams as seed * 1000 + rank; 32 bits fit them all
SEED = Bounds(0, 2**32 - 1)


def option_name(field: str) -> str:
    """The command-line option that sets a field: vocab_size -> --vocab-size."""
    return "--" + field.replace("_", "-")


def check_value(
    name: str,
    value: float | None,
    bounds: Bounds,
    error: type[Exception] = ValueError,
    message: str = MESSAGE,
) -> None:
    """Raise `error` when `value` is outside `bounds`; `message` uses {name}, {flag}, {problem}."""
    problem = bounds.problem(value)
    if problem is not None:
        raise error(message.format(name=name, flag=option_name(name), problem=problem))


def check_fields(
    obj: object,
    table: Mapping[str, Bounds],
    error: type[Exception] = ValueError,
    message: str = MESSAGE,
) -> None:
    """Check each field of the dataclass `obj` named in `table` (None means unset and passes)."""
    for name, bounds in table.items():
        check_value(name, getattr(obj, name), bounds, error, message)
