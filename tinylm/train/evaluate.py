"""Validation metrics on fixed windows: the same numbers every time, for any checkpoint."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from tinylm.data.vocab import MASK_ID, N_SPECIAL
from tinylm.device import Runtime
from tinylm.model import Transformer
from tinylm.train.objectives import EVAL_MASK_RATE, EVAL_MASK_SEED, IGNORE

EVAL_BATCH = 64


def fixed_masks(
    windows: torch.Tensor, rate: float = EVAL_MASK_RATE
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hide `rate` of the non-special tokens with [MASK], from a fixed seed: (inputs, labels)."""
    g = torch.Generator().manual_seed(EVAL_MASK_SEED)
    chosen = (torch.rand(windows.shape, generator=g) < rate) & (windows >= N_SPECIAL)
    inputs = torch.where(chosen, torch.full_like(windows, MASK_ID), windows)
    labels = torch.where(chosen, windows, torch.full_like(windows, IGNORE))
    return inputs, labels


@torch.no_grad()
def evaluate(
    model: Transformer, windows: torch.Tensor, runtime: Runtime, bytes_per_token: float
) -> dict:
    """Causal: loss, perplexity, bits per byte. Masked: CE and top-1 at fixed 15 % masks."""
    was_training = model.training
    model.eval()
    loss_sum, count, correct = 0.0, 0, 0
    if model.config.causal:
        for batch in windows.split(EVAL_BATCH):
            batch = batch.to(runtime.device)
            with runtime.autocast():
                logits = model(batch[:, :-1])
            target = batch[:, 1:]
            loss_sum += F.cross_entropy(
                logits.flatten(0, 1).float(), target.flatten(), reduction="sum"
            ).item()
            count += target.numel()
    else:
        inputs, labels = fixed_masks(windows)
        for x, y in zip(inputs.split(EVAL_BATCH), labels.split(EVAL_BATCH), strict=True):
            x, y = x.to(runtime.device), y.to(runtime.device)
            select = y != IGNORE
            with runtime.autocast():
                logits = model(x, select=select).float()
            target = y[select]
            loss_sum += F.cross_entropy(logits, target, reduction="sum").item()
            correct += int((logits.argmax(-1) == target).sum())
            count += target.numel()
    model.train(was_training)
    loss = loss_sum / max(count, 1)
    if model.config.causal:
        return {
            "val_loss": loss,
            "val_ppl": math.exp(min(loss, 50.0)),
            "val_bpb": loss / math.log(2) / bytes_per_token,
        }
    return {"val_loss": loss, "val_acc": correct / max(count, 1), "val_masked": count}
