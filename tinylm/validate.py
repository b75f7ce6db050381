"""Validation figures on fixed windows: the same numbers every time, for any checkpoint.

Training reports them at every evaluation and `tinylm eval` / `compare` reuse them, so a val loss
means the same thing everywhere. Causal: next-token loss. Masked: cross-entropy and top-1 at
fixed 15 % masks. Diffusion: the negative ELBO per token (a fixed-seed Monte-Carlo estimate, an
upper bound on the loss a causal model reports) plus the same fixed-mask top-1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from tinylm.elbo import nelbo_draws
from tinylm.head_loss import head_token_nll
from tinylm.metrics import IGNORE, bits_per_byte, fixed_masks, next_token_nll, perplexity
from tinylm.model import Transformer

if TYPE_CHECKING:
    from tinylm.device import Runtime

EVAL_BATCH = 64
ELBO_SEED = 4321  # the diffusion bound is estimated with the same draws at every evaluation


@torch.no_grad()
def evaluate(
    model: Transformer, windows: torch.Tensor, runtime: Runtime, bytes_per_token: float
) -> dict:
    """Causal: loss, perplexity, bits per byte. Masked: CE and top-1 at fixed 15 % masks.
    Diffusion: the negative ELBO per token as the loss (with its bits per byte), and top-1."""
    was_training = model.training
    model.eval()
    if model.config.causal:
        loss_sum, count, correct = _causal_sums(model, windows, runtime)
    else:
        loss_sum, count, correct = fixed_mask_sums(model, windows, runtime)
    bound = (
        _elbo_per_token(model, windows, runtime) if model.config.objective == "diffusion" else None
    )
    model.train(was_training)
    loss = loss_sum / max(count, 1)
    if model.config.causal:
        return {
            "val_loss": loss,
            "val_ppl": perplexity(loss),
            "val_bpb": bits_per_byte(loss, bytes_per_token),
        }
    if bound is not None:  # the bound is what a diffusion model minimises: its best is by it
        return {
            "val_loss": bound,
            "val_bpb": bits_per_byte(bound, bytes_per_token),
            "val_acc": correct / max(count, 1),
            "val_masked_ce": loss,
        }
    return {"val_loss": loss, "val_acc": correct / max(count, 1), "val_masked": count}


def _elbo_per_token(model: Transformer, windows: torch.Tensor, runtime: Runtime) -> float:
    """The negative ELBO in nats per token of the windows, one fixed-seed draw per window."""
    g = torch.Generator().manual_seed(ELBO_SEED)
    total = 0.0
    for batch in windows.split(EVAL_BATCH):
        with runtime.autocast():
            total += float(nelbo_draws(model, batch.to(runtime.device), 1, g).sum())
    return total / max(windows.numel(), 1)


def _causal_sums(
    model: Transformer, windows: torch.Tensor, runtime: Runtime
) -> tuple[float, int, int]:
    """Summed next-token NLL over windows (N, T + 1) and the number of predicted tokens."""
    loss_sum, count = 0.0, 0
    for batch in windows.split(EVAL_BATCH):
        batch = batch.to(runtime.device)
        target = batch[:, 1:]
        with runtime.autocast():
            h = model(batch[:, :-1], logits=False)  # the head a slice at a time: less memory
            loss_sum += head_token_nll(h, model.head.weight, target).sum().item()
        count += target.numel()
    return loss_sum, count, 0


def fixed_mask_sums(
    model: Transformer, windows: torch.Tensor, runtime: Runtime
) -> tuple[float, int, int]:
    """Summed NLL at the fixed masks of windows (N, T), the masked count and top-1 hits."""
    loss_sum, count, correct = 0.0, 0, 0
    inputs, labels = fixed_masks(windows)
    for x, y in zip(inputs.split(EVAL_BATCH), labels.split(EVAL_BATCH), strict=True):
        x, y = x.to(runtime.device), y.to(runtime.device)
        select = y != IGNORE
        with runtime.autocast():
            logits = model(x, select=select).float()
        target = y[select]
        loss_sum += next_token_nll(logits, target, reduction="sum").item()
        correct += int((logits.argmax(-1) == target).sum())
        count += target.numel()
    return loss_sum, count, correct
