"""Sampling: pure logits filters, and token-by-token generation with a KV cache.

Sampling runs in float32 on the CPU copy of the last logits (also the safe path on MPS).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator

import torch

from tinylm.data.vocab import EOS_ID, MASK_ID
from tinylm.infer.config import SamplingConfig
from tinylm.infer.decode import Decoder
from tinylm.model import KVCache, Transformer


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep exactly k of the largest logits of each row, even among ties; -inf elsewhere."""
    if k <= 0 or k >= logits.size(-1):
        return logits
    keep = logits.topk(k, dim=-1).indices
    out = torch.full_like(logits, float("-inf"))
    return out.scatter(-1, keep, logits.gather(-1, keep))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep the smallest set of most likely tokens whose probability reaches p (nucleus)."""
    if p >= 1.0:
        return logits
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    cum = sorted_logits.softmax(-1).cumsum(-1)
    drop = cum - sorted_logits.softmax(-1) >= p  # mass before this token already reaches p
    sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
    return torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)


def min_p_filter(logits: torch.Tensor, min_p: float) -> torch.Tensor:
    """Drop tokens less likely than min_p times the most likely one."""
    if min_p <= 0.0:
        return logits
    probs = logits.softmax(-1)
    floor = min_p * probs.max(dim=-1, keepdim=True).values
    return logits.masked_fill(probs < floor, float("-inf"))


def repetition_penalty(
    logits: torch.Tensor, previous: Collection[int], penalty: float
) -> torch.Tensor:
    """Make seen tokens less likely: positive logits divided by penalty, negatives multiplied."""
    if penalty == 1.0 or not previous:
        return logits
    seen = torch.tensor(sorted(set(previous)), dtype=torch.long)
    picked = logits[..., seen]
    logits = logits.clone()
    logits[..., seen] = torch.where(picked > 0, picked / penalty, picked * penalty)
    return logits


def sampling_probs(logits: torch.Tensor, cfg: SamplingConfig) -> torch.Tensor:
    """Probabilities (..., V) after temperature and the top-k, top-p and min-p filters."""
    logits = top_k_filter(logits / cfg.temperature, cfg.top_k)
    return min_p_filter(top_p_filter(logits, cfg.top_p), cfg.min_p).softmax(-1)


def next_token(
    logits: torch.Tensor,
    previous: Collection[int],
    cfg: SamplingConfig,
    generator: torch.Generator | None,
) -> int:
    """Choose the next token from the last position's logits (V,); `previous` holds the tokens
    the repetition penalty applies to (a set does: only which tokens appeared matters)."""
    logits = repetition_penalty(logits.float().cpu(), previous, cfg.repetition_penalty)
    if cfg.temperature == 0.0:
        return int(logits.argmax())
    return int(torch.multinomial(sampling_probs(logits, cfg), 1, generator=generator))


@torch.inference_mode()
def generate(
    model: Transformer,
    prompt: list[int],
    cfg: SamplingConfig,
    generator: torch.Generator | None = None,
    use_cache: bool = True,
) -> Iterator[int]:
    """Yield new token ids one at a time. An empty prompt starts a new document.

    The context is the last `block_size` tokens; once it is full it slides forward by half a
    block and the cache is refilled from there (learned or rotary positions both stay in range).
    With or without the cache the model sees the same context, so greedy outputs are identical.
    Only the context and the set of tokens seen are kept: each token costs the same however
    long the sample grows.
    """
    device = model.device
    block = model.config.block_size
    ids = list(prompt) or [EOS_ID]
    seen = set(ids)  # the whole text's tokens, for the repetition penalty
    ids = ids[-block:]
    cache: KVCache | None = None
    decoder: Decoder | None = None
    for _ in range(cfg.max_new_tokens):
        refill = cache is None
        if len(ids) > block:
            ids, refill = ids[-(block // 2) :], True
        if use_cache and not refill:
            decoder = decoder or Decoder(model)  # after the first token: it adds nothing to TTFT
            logits = decoder.step(ids[-1], cache)
        else:
            x = torch.tensor([ids], device=device)
            cache = KVCache(model.config.n_layer, block) if use_cache else None
            last = torch.zeros(x.shape, dtype=torch.bool, device=device)
            last[0, -1] = True  # the head runs on the last position only
            logits = model(x, select=last, cache=cache)[0]
        token = next_token(logits, seen, cfg, generator)
        if cfg.stop_at_eos and token == EOS_ID:
            return
        ids.append(token)
        seen.add(token)
        yield token


@torch.inference_mode()
def fill_masks(model: Transformer, ids: list[int]) -> list[int]:
    """Replace each [MASK] with the masked model's most likely token, all in one pass."""
    device = model.device
    x = torch.tensor([ids], device=device)
    select = x == MASK_ID
    if not bool(select.any()):
        return list(ids)
    out = x.clone()
    out[select] = model(x, select=select).float().argmax(-1)
    return out[0].tolist()
