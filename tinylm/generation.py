"""Sampling from a causal model and filling masks with a masked one (the end-of-training sample).

Sampling runs in float32 on the CPU side of the logits, which is also safe on MPS.
"""

from __future__ import annotations

import torch

from tinylm.model import Transformer
from tinylm.tokenizer import EOS_ID, MASK_ID


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep exactly the k largest logits of each row (ties broken by position); -inf elsewhere."""
    if k <= 0 or k >= logits.size(-1):
        return logits
    keep = logits.topk(k, dim=-1).indices
    out = torch.full_like(logits, float("-inf"))
    return out.scatter(-1, keep, logits.gather(-1, keep))


@torch.no_grad()
def sample(
    model: Transformer,
    prompt: list[int],
    max_new_tokens: int,
    temperature: float = 0.8,
    top_k: int = 40,
    generator: torch.Generator | None = None,
    stop_at_eos: bool = True,
) -> list[int]:
    """New token ids after `prompt`, recomputing the cropped context each step."""
    device = next(model.parameters()).device
    ids = list(prompt) or [EOS_ID]  # an empty prompt starts a new document
    new: list[int] = []
    for _ in range(max_new_tokens):
        ctx = torch.tensor([ids[-model.config.block_size :]], device=device)
        logits = model(ctx)[0, -1].float().cpu()
        if temperature <= 0:
            nxt = int(logits.argmax())
        else:
            probs = top_k_filter(logits / temperature, top_k).softmax(-1)
            nxt = int(torch.multinomial(probs, 1, generator=generator))
        if stop_at_eos and nxt == EOS_ID:
            break
        ids.append(nxt)
        new.append(nxt)
    return new


@torch.no_grad()
def fill_masks(model: Transformer, ids: list[int]) -> list[int]:
    """Replace each [MASK] with the masked model's most likely token, all in one pass."""
    device = next(model.parameters()).device
    x = torch.tensor([ids], device=device)
    select = x == MASK_ID
    if not bool(select.any()):
        return list(ids)
    best = model(x, select=select).float().argmax(-1)
    out = x.clone()
    out[select] = best
    return out[0].tolist()
