"""Dropout that rises as a causal model's training data repeats.

A causal model sees the same next-token task every time the corpus comes round, and on a small
corpus it starts to memorise it: on the bundled 1 MB corpus the tiny model's val loss bottomed
at about 8 epochs and then rose for the rest of a 10-minute run. Masked objectives draw new masks
every pass, so they are left alone. The rate is a function of the tokens seen so far, so a
resumed run sets the same rates at the same steps; it moves in steps of `QUANTUM` so a compiled
model recompiles only a few times.
"""

from __future__ import annotations

QUANTUM = 0.05


def repeat_dropout(epochs: float, base: float, full: float, start: float, end: float) -> float:
    """The dropout rate after `epochs` passes over the train split: `base` until `start`
    epochs, then linear to `full` at `end` epochs, in steps of QUANTUM between `base` and `full`."""
    if full <= base or epochs <= start:
        return base
    if epochs >= end:
        return full
    rate = round(
        round((base + (full - base) * (epochs - start) / (end - start)) / QUANTUM) * QUANTUM, 9
    )
    return min(full, max(base, rate))
