"""Which sampler a model generates with, and the label that says so (the CLI and the server
say the same thing)."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from tinylm.infer.config import SamplingConfig, UnmaskConfig
from tinylm.infer.sampling import generate
from tinylm.infer.unmask import unmask_generate
from tinylm.model import Transformer


def new_tokens(
    model: Transformer,
    ids: list[int],
    cfg: SamplingConfig,
    g: torch.Generator,
    unmask: UnmaskConfig | None,
) -> Iterator[int]:
    """New tokens: next-token sampling from a causal model, iterative unmasking otherwise."""
    if unmask is None:
        return generate(model, ids, cfg, g)
    # a BERT-style model never saw [EOS] as a target it should produce: it writes text only
    native = model.config.objective == "diffusion"
    return unmask_generate(model, ids, cfg, unmask, g, allow_eos=native and cfg.stop_at_eos)


def unmask_note(objective: str, name: str, length: int, steps: int, remasking: str) -> str:
    """The line that labels unmasking: native for a diffusion model, simulated for a masked one
    (`name` names the model: a run path on the command line, a model id in the server)."""
    how = f"blocks of {length} [MASK]s, {steps} steps each, {remasking} commits"
    if objective == "masked":
        return (
            f"Simulated: {name} is a BERT-style masked model, never trained on mostly-masked "
            f"text; it fills {how} (the diffusion sampler)."
        )
    return f"Diffusion: iterative unmasking, {how}."
