"""Optimizers and the learning-rate schedule.

Muon (momentum, then an approximate orthogonalisation of each update by a Newton-Schulz
iteration; Jordan et al. 2024) trains the hidden matrices; AdamW trains embeddings and norm gains.
"""

from __future__ import annotations

import math
from collections import defaultdict

import torch
from torch import nn

# Quintic Newton-Schulz coefficients published with Muon: they push singular values towards 1 fast.
_NS_COEFFS = (3.4445, -4.7750, 2.0315)


def newton_schulz(g: torch.Tensor, steps: int = 5) -> torch.Tensor:
    """Approximately orthogonalise a batch of matrices (N, m, n) in float32."""
    a, b, c = _NS_COEFFS
    x = g.float()
    x = x / (x.norm(dim=(-2, -1), keepdim=True) + 1e-7)
    tall = x.size(-2) > x.size(-1)
    if tall:  # iterate on the smaller Gram matrix
        x = x.mT
    for _ in range(steps):
        gram = x @ x.mT
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.mT if tall else x


class Muon(torch.optim.Optimizer):
    """Muon for 2-D weights; same-shaped matrices are orthogonalised in one batched matmul."""

    def __init__(
        self, params, lr: float, momentum: float = 0.95, weight_decay: float = 0.0
    ) -> None:
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):  # noqa: ANN001 - torch's signature
        for group in self.param_groups:
            lr, beta, wd = group["lr"], group["momentum"], group["weight_decay"]
            by_shape: dict[torch.Size, list[tuple[torch.Tensor, torch.Tensor]]] = defaultdict(list)
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(p)
                buf = state["momentum_buffer"]
                buf.mul_(beta).add_(p.grad)
                by_shape[p.shape].append((p, p.grad.add(buf, alpha=beta)))  # Nesterov
            for shape, items in by_shape.items():
                ortho = newton_schulz(torch.stack([g for _, g in items]))
                scale = max(1.0, shape[0] / shape[1]) ** 0.5  # equal RMS update for tall matrices
                for (p, _), o in zip(items, ortho, strict=True):
                    if wd:
                        p.mul_(1 - lr * wd)
                    p.add_(o.to(p.dtype), alpha=-lr * scale)


class Optimizers:
    """Several optimizers stepped as one; each group remembers its base learning rate."""

    def __init__(self, optimizers: list[torch.optim.Optimizer]) -> None:
        self.optimizers = optimizers
        for opt in optimizers:
            for group in opt.param_groups:
                group.setdefault("base_lr", group["lr"])

    def set_lr_factor(self, factor: float) -> None:
        for opt in self.optimizers:
            for group in opt.param_groups:
                group["lr"] = group["base_lr"] * factor

    def step(self) -> None:
        for opt in self.optimizers:
            opt.step()

    def zero_grad(self) -> None:
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=True)

    def state_dict(self) -> dict:
        return {str(i): opt.state_dict() for i, opt in enumerate(self.optimizers)}

    def load_state_dict(self, state: dict) -> None:
        if set(state) != {str(i) for i in range(len(self.optimizers))}:
            raise ValueError("optimizer state does not match this optimizer setup")
        for i, opt in enumerate(self.optimizers):
            opt.load_state_dict(state[str(i)])


def build_optimizers(
    model: nn.Module,
    kind: str,
    lr: float,
    muon_lr: float,
    weight_decay: float,
    fused: bool,
) -> Optimizers:
    """AdamW everywhere, or Muon for the blocks' matrices and AdamW for the rest."""
    matrices = [p for n, p in model.named_parameters() if p.ndim == 2 and n.startswith("blocks.")]
    # tied embedding/head, and in AdamW-only mode every matrix, get weight decay; gains do not
    decay_ids = {id(p) for p in model.parameters() if p.ndim == 2}
    if kind == "muon":
        muon_ids = {id(p) for p in matrices}
        rest = [p for p in model.parameters() if id(p) not in muon_ids]
    else:
        rest = list(model.parameters())
    groups = [
        {"params": [p for p in rest if id(p) in decay_ids], "weight_decay": weight_decay},
        {"params": [p for p in rest if id(p) not in decay_ids], "weight_decay": 0.0},
    ]
    adamw = torch.optim.AdamW(
        [g for g in groups if g["params"]], lr=lr, betas=(0.9, 0.95), fused=fused or None
    )
    if kind == "muon":
        return Optimizers([adamw, Muon(matrices, lr=muon_lr, weight_decay=weight_decay)])
    return Optimizers([adamw])


def lr_factor(step: int, progress: float, warmup: int, final: float = 0.1) -> float:
    """Linear warmup over `warmup` steps, then cosine from 1 to `final` as progress goes 0 -> 1."""
    if step < warmup:
        return (step + 1) / warmup
    p = min(max(progress, 0.0), 1.0)
    return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * p))
