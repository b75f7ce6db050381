"""Training objectives, outside the model: next-token prediction and masked-token reconstruction."""

from __future__ import annotations

import torch

from tinylm.metrics import IGNORE, next_token_nll
from tinylm.model import Transformer


def causal_loss(model: Transformer, batch: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy of windows (B, T + 1)."""
    return next_token_nll(model(batch[:, :-1]), batch[:, 1:])


def masked_loss(
    model: Transformer, inputs: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy at the masked positions only, and the number of correct top-1 guesses."""
    select = labels != IGNORE
    logits = model(inputs, select=select).float()  # (N, V): the head runs only where it is needed
    target = labels[select]
    if target.numel() == 0:
        zero = logits.sum() * 0.0
        return zero, torch.zeros((), dtype=torch.long, device=inputs.device)
    return next_token_nll(logits, target), (logits.argmax(-1) == target).sum()
