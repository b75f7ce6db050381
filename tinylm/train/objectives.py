"""Training objectives, outside the model: next-token prediction and masked-token reconstruction."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from tinylm.data.vocab import MASK_ID, N_SPECIAL
from tinylm.model import Transformer
from tinylm.train.config import MaskingConfig

IGNORE = -100  # label of positions that carry no loss (the Hugging Face convention)
EVAL_MASK_RATE = 0.15  # evaluation always uses 15 % so runs with different training rates compare
EVAL_MASK_SEED = 1234


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


def causal_loss(model: Transformer, batch: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy of windows (B, T + 1)."""
    logits = model(batch[:, :-1])
    return F.cross_entropy(logits.flatten(0, 1).float(), batch[:, 1:].flatten())


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
    loss = F.cross_entropy(logits, target)
    return loss, (logits.argmax(-1) == target).sum()
