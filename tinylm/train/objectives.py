"""Training objectives, outside the model: next-token prediction, masked-token reconstruction
(BERT) and masked diffusion (unmasking at every rate, MDLM)."""

from __future__ import annotations

import torch

from tinylm.elbo import diffusion_masks, draw_rates, masked_row_nll
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


def diffusion_loss(
    model: Transformer, idx: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """The negative ELBO per token of the batch: Σ masked CE / t, over B·T (not over the masked)."""
    rates = draw_rates(idx.size(0), generator).to(idx.device)
    inputs, chosen = diffusion_masks(idx, rates, generator)
    return (masked_row_nll(model, inputs, chosen, idx) / rates).sum() / idx.numel()
