"""Generation by iterative unmasking: the reverse process of masked diffusion.

New text starts as [MASK]s after the context and is filled a block at a time, left to right
(semi-autoregressive, which also stops the early-[EOS] flood LLaDA reports for long canvases).
Within a block, each of `steps` model calls predicts every masked position and commits some:
- "confidence": the surest predictions, an equal share each step (LLaDA's low-confidence remasking);
- "random": an equal share of the masked positions each step, drawn at random: MDLM's reverse
  process in a random order. With one step per token (the default) each token is unmasked at
  its own time, the continuous-time limit of MDLM's ancestral sampler; drawing each position
  with probability 1 / steps left, as the discrete sampler does, commits several at once on
  some steps and none on others, and was judged worse at every budget (README, Benchmarks);
- "left-to-right": the leftmost ones.
Committed tokens never change. A diffusion model does this natively; a BERT-style masked model
does it too, but was never trained on mostly-masked inputs, so its text is labelled simulated.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch

from tinylm.data.vocab import EOS_ID, MASK_ID, N_SPECIAL
from tinylm.infer.config import SamplingConfig, UnmaskConfig
from tinylm.infer.sampling import repetition_penalty, sampling_probs
from tinylm.model import Transformer


def sample_rows(
    logits: torch.Tensor, cfg: SamplingConfig, generator: torch.Generator | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """One token per row of logits (N, V) under cfg, and the probability it had."""
    if cfg.temperature == 0:
        probs = logits.softmax(-1)
        tokens = probs.argmax(-1)
    else:
        probs = sampling_probs(logits, cfg)
        tokens = torch.multinomial(probs, 1, generator=generator)[:, 0]
    return tokens, probs.gather(-1, tokens[:, None])[:, 0]


def _chosen(
    conf: torch.Tensor, steps_left: int, mode: str, generator: torch.Generator | None
) -> torch.Tensor:
    """Indices (into the masked slots, left to right) to commit at this step."""
    n = conf.numel()
    if steps_left == 1:
        return torch.arange(n)
    k = math.ceil(n / steps_left)
    if mode == "random":
        return torch.randperm(n, generator=generator)[:k].sort().values
    return torch.arange(k) if mode == "left-to-right" else conf.topk(k).indices.sort().values


@torch.inference_mode()
def unmask_block(
    model: Transformer,
    x: torch.Tensor,
    start: int,
    steps: int,
    cfg: SamplingConfig,
    mode: str,
    generator: torch.Generator | None = None,
    allow_eos: bool = False,
    on_step: Callable[[torch.Tensor], None] | None = None,
) -> torch.Tensor:
    """Fill the [MASK]s of x (1, T) from `start` on, in `steps` model calls; x changes in place."""
    banned = torch.zeros(model.config.vocab_size, dtype=torch.bool)
    banned[:N_SPECIAL] = True  # [MASK] and the other specials are never committed
    banned[EOS_ID] = not allow_eos
    for step in range(steps):
        open_ = x[0] == MASK_ID
        open_[:start] = False
        slots = open_.nonzero()[:, 0]
        if len(slots) == 0:
            break
        logits = model(x.to(model.device), select=open_[None].to(model.device)).float().cpu()
        logits[:, banned] = float("-inf")
        fixed = x[0][~(x[0] == MASK_ID)].tolist()
        logits = repetition_penalty(logits, fixed, cfg.repetition_penalty)
        tokens, conf = sample_rows(logits, cfg, generator)
        chosen = _chosen(conf, steps - step, mode, generator)
        x[0, slots[chosen]] = tokens[chosen]
        if on_step is not None:
            on_step(x.clone())
    return x


def unmask_generate(
    model: Transformer,
    prompt: list[int],
    cfg: SamplingConfig,
    unmask: UnmaskConfig,
    generator: torch.Generator | None = None,
    allow_eos: bool = True,
    on_step: Callable[[torch.Tensor], None] | None = None,
) -> Iterator[int]:
    """Yield up to cfg.max_new_tokens new tokens, a block at a time; stop after an [EOS]."""
    context = model.config.block_size
    block, block_steps = unmask.resolve(context)
    ids = list(prompt) or [EOS_ID]
    left = cfg.max_new_tokens
    while left > 0:
        n = min(left, block)
        steps = max(1, math.ceil(block_steps * n / block))  # a short last block: fewer steps
        keep = ids[len(ids) - min(len(ids), context - n) :]
        x = torch.tensor([keep + [MASK_ID] * n])
        unmask_block(
            model, x, len(keep), steps, cfg, unmask.remasking, generator, allow_eos, on_step
        )
        new = x[0, len(keep) :].tolist()
        if allow_eos and EOS_ID in new:
            yield from new[: new.index(EOS_ID) + 1]
            return
        ids += new
        left -= n
        yield from new
