"""The loss and metric core: next-token NLL, bits per byte, masking, and fixed validation metrics.

Training (tinylm.train) and measuring (tinylm.infer) both read their numbers from here, so a
loss means the same thing in the training log, in `tinylm eval` and in `tinylm compare`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

import torch
import torch.nn.functional as F

from tinylm.data.vocab import MASK_ID, N_SPECIAL
from tinylm.model import Transformer
from tinylm.train.config import MaskingConfig  # a stdlib-only dataclass, no training code

if TYPE_CHECKING:
    from tinylm.device import Runtime

IGNORE = -100  # label of positions that carry no loss (the Hugging Face convention)
EVAL_MASK_RATE = 0.15  # evaluation always uses 15 % so runs with different training rates compare
EVAL_MASK_SEED = 1234
EVAL_BATCH = 64


def next_token_nll(
    logits: torch.Tensor,
    targets: torch.Tensor,
    reduction: Literal["mean", "sum", "none"] = "mean",
) -> torch.Tensor:
    """-log p(target) under logits (..., V), in float32; targets (...) equal to IGNORE count not.

    "none" returns one value per target, shaped like `targets` (0 where a target is IGNORE).
    """
    # float32 even under autocast: a bf16 log-softmax over a large vocabulary loses digits
    nll = F.cross_entropy(
        logits.reshape(-1, logits.size(-1)).float(),
        targets.reshape(-1),
        ignore_index=IGNORE,
        reduction=reduction,
    )
    return nll.view(targets.shape) if reduction == "none" else nll


def bits_per_byte(loss: float, bytes_per_token: float) -> float:
    """A mean loss in nats per token as bits per byte of text: comparable across tokenizers."""
    return loss / math.log(2) / bytes_per_token


def perplexity(loss: float) -> float:
    """exp(mean loss in nats), capped so an untrained or diverged model does not overflow."""
    return math.exp(min(loss, 50.0))


def mask_tokens(
    idx: torch.Tensor, vocab_size: int, cfg: MaskingConfig, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hide ~rate of the non-special tokens; return (inputs, labels), labels -100 elsewhere."""
    gen_device = generator.device if generator is not None else idx.device
    draw = torch.rand(idx.shape, generator=generator, device=gen_device).to(idx.device)
    how = torch.rand(idx.shape, generator=generator, device=gen_device).to(idx.device)
    rand_ids = torch.randint(
        N_SPECIAL, vocab_size, idx.shape, generator=generator, device=gen_device
    ).to(idx.device)
    chosen = (draw < cfg.rate) & (idx >= N_SPECIAL)
    labels = torch.where(chosen, idx, torch.full_like(idx, IGNORE))
    inputs = idx.clone()
    to_mask = chosen & (how < cfg.p_mask)
    to_rand = chosen & (how >= cfg.p_mask) & (how < cfg.p_mask + cfg.p_random)
    inputs[to_mask] = MASK_ID
    inputs[to_rand] = rand_ids[to_rand]
    return inputs, labels


def fixed_masks(
    windows: torch.Tensor, rate: float = EVAL_MASK_RATE
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hide `rate` of the non-special tokens with [MASK], from a fixed seed: (inputs, labels)."""
    g = torch.Generator().manual_seed(EVAL_MASK_SEED)
    # every chosen token becomes [MASK] (p_mask = 1), so no random id is ever used and any
    # vocabulary above the special tokens gives the same result
    cfg = MaskingConfig(rate=rate, p_mask=1.0, p_random=0.0)
    return mask_tokens(windows, N_SPECIAL + 1, cfg, g)


@torch.no_grad()
def evaluate(
    model: Transformer, windows: torch.Tensor, runtime: Runtime, bytes_per_token: float
) -> dict:
    """Causal: loss, perplexity, bits per byte. Masked: CE and top-1 at fixed 15 % masks."""
    was_training = model.training
    model.eval()
    if model.config.causal:
        loss_sum, count, correct = _causal_sums(model, windows, runtime)
    else:
        loss_sum, count, correct = _masked_sums(model, windows, runtime)
    model.train(was_training)
    loss = loss_sum / max(count, 1)
    if model.config.causal:
        return {
            "val_loss": loss,
            "val_ppl": perplexity(loss),
            "val_bpb": bits_per_byte(loss, bytes_per_token),
        }
    return {"val_loss": loss, "val_acc": correct / max(count, 1), "val_masked": count}


def _causal_sums(
    model: Transformer, windows: torch.Tensor, runtime: Runtime
) -> tuple[float, int, int]:
    """Summed next-token NLL over windows (N, T + 1) and the number of predicted tokens."""
    loss_sum, count = 0.0, 0
    for batch in windows.split(EVAL_BATCH):
        batch = batch.to(runtime.device)
        with runtime.autocast():
            logits = model(batch[:, :-1])
        target = batch[:, 1:]
        loss_sum += next_token_nll(logits, target, reduction="sum").item()
        count += target.numel()
    return loss_sum, count, 0


def _masked_sums(
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
