"""The loss and metric core: next-token NLL, bits per byte, perplexity and token masking.

Training (tinylm.train) and measuring (tinylm.infer) both read their numbers from here, so a
loss means the same thing in the training log, in `tinylm eval` and in `tinylm compare`.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F

from tinylm.data.vocab import MASK_ID, N_SPECIAL
from tinylm.train.config import MaskingConfig  # a stdlib-only dataclass, no training code

IGNORE = -100  # label of positions that carry no loss (the Hugging Face convention)
EVAL_MASK_RATE = 0.15  # evaluation always uses 15 % so runs with different training rates compare
EVAL_MASK_SEED = 1234


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
