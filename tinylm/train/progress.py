"""Where a run stands, and its random streams as text: what trainer_state.json holds so a resumed
run continues exactly."""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass

import torch


@dataclass
class Progress:
    """Where a run stands; saved as trainer_state.json so a resumed run continues exactly."""

    step: int = 0
    tokens: int = 0
    elapsed: float = 0.0
    best_val: float = math.inf
    last_val: float | None = None
    next_eval: float = 0.0  # elapsed seconds at which a time budget's next evaluation is due


def gen_state(g: torch.Generator) -> str:
    """A generator's state as base64 text, for JSON."""
    return base64.b64encode(g.get_state().numpy().tobytes()).decode()


def set_gen_state(g: torch.Generator, s: str) -> None:
    """Restore a generator from `gen_state`'s text (bad base64 raises ValueError)."""
    state = torch.frombuffer(bytearray(base64.b64decode(s, validate=True)), dtype=torch.uint8)
    g.set_state(state)
