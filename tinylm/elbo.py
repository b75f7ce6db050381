"""Masked diffusion's likelihood bound (MDLM, Sahoo et al. 2024; LLaDA, Nie et al. 2025).

Under the linear schedule a sequence is corrupted at rate t ~ U(0, 1): each token that is not a
special token becomes [MASK] with probability t. The continuous-time negative ELBO is

    E_t [ (1 / t) · Σ over masked i of −log p(x_i | x_t) ],

an upper bound on −log p(x) in nats, so its bits per byte compare with a causal model's exact
figure. It is both the diffusion training loss (per token of the batch; tinylm.train.objectives)
and, estimated with a fixed seed, the evaluation of any bidirectional model. For a short
sequence it can be computed exactly (`exact_nelbo`), which the tests use to check the estimator.
"""

from __future__ import annotations

import itertools
import math

import torch

from tinylm.data.vocab import MASK_ID, N_SPECIAL
from tinylm.head_loss import head_token_nll
from tinylm.model import Transformer

EPS = 1e-3  # smallest rate drawn: 1 / t stays bounded, at a truncation bias of order EPS


def draw_rates(n: int, generator: torch.Generator | None = None, eps: float = EPS) -> torch.Tensor:
    """n rates in [eps, 1), low-discrepancy: (u + i / n) mod 1 for one uniform u, as MDLM does."""
    u = torch.rand(1, generator=generator)
    return eps + (1 - eps) * ((u + torch.arange(n) / n) % 1.0)


def diffusion_masks(
    idx: torch.Tensor, rates: torch.Tensor, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each non-special token of row b becomes [MASK] with probability rates[b]: (inputs, mask)."""
    gen_device = generator.device if generator is not None else idx.device
    draw = torch.rand(idx.shape, generator=generator, device=gen_device).to(idx.device)
    chosen = (draw < rates.to(idx.device)[:, None]) & (idx >= N_SPECIAL)
    return torch.where(chosen, torch.full_like(idx, MASK_ID), idx), chosen


def masked_row_nll(
    model: Transformer, inputs: torch.Tensor, chosen: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """Σ over the chosen positions of each row of −log p(target), specials never predicted: (B,)."""
    h = model(inputs, select=chosen, logits=False)  # the head only where it is needed
    # MDLM's "SUBS": [MASK] and the specials are not text, never predicted
    nll = head_token_nll(h, model.head.weight, targets[chosen], banned=N_SPECIAL)
    rows = chosen.nonzero()[:, 0]
    return torch.zeros(inputs.size(0), device=nll.device).index_add(0, rows, nll)


@torch.no_grad()
def nelbo_draws(
    model: Transformer, windows: torch.Tensor, draws: int, generator: torch.Generator
) -> torch.Tensor:
    """Monte-Carlo estimates (N, draws) of each window's negative ELBO in nats.

    Each window gets `draws` stratified rates; their mean is the estimate, their spread its noise.
    """
    out = torch.empty(windows.size(0), draws)
    for k in range(draws):
        shift = k / draws
        rates = EPS + (1 - EPS) * ((torch.rand(windows.size(0), generator=generator) + shift) % 1)
        inputs, chosen = diffusion_masks(windows, rates, generator)
        nll = masked_row_nll(model, inputs, chosen, windows)
        out[:, k] = (nll / rates.to(nll.device)).cpu()
    return out


@torch.no_grad()
def exact_nelbo(model: Transformer, ids: list[int]) -> float:
    """The negative ELBO of one short sequence exactly: Σ over mask sets M of B(|M|, L−|M|+1) ·
    Σ_{i∈M} −log p(x_i | x with M masked). 2^L forwards: for tests, L ≤ ~12 maskable tokens."""
    x = torch.tensor([ids])
    maskable = [i for i, t in enumerate(ids) if t >= N_SPECIAL]
    L = len(maskable)
    total = 0.0
    for size in range(1, L + 1):
        weight = math.exp(math.lgamma(size) + math.lgamma(L - size + 1) - math.lgamma(L + 1))
        for subset in itertools.combinations(maskable, size):
            chosen = torch.zeros_like(x, dtype=torch.bool)
            chosen[0, list(subset)] = True
            inputs = torch.where(chosen, torch.full_like(x, MASK_ID), x)
            total += weight * float(masked_row_nll(model, inputs, chosen, x)[0])
    return total
