"""Optimizers and the learning-rate schedule.

Muon (momentum, then an approximate orthogonalisation of each update by a Newton-Schulz
iteration; Jordan et al. 2024) trains the hidden matrices; AdamW trains embeddings and norm gains.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable

import torch
from torch import nn
from torch.optim.adamw import adamw as adamw_step  # the functional step: no torch._dynamo

# Quintic Newton-Schulz coefficients published with Muon: they push singular values towards 1 fast.
_NS_COEFFS = (3.4445, -4.7750, 2.0315)


def newton_schulz(
    g: torch.Tensor, steps: int = 5, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Approximately orthogonalise a batch of matrices (N, m, n); iterate in `dtype` (bf16 is
    Muon's own choice on GPUs: the iteration only needs singular values near 1, not digits),
    return float32."""
    a, b, c = _NS_COEFFS
    x = g.float()
    x = (x / (x.norm(dim=(-2, -1), keepdim=True) + 1e-7)).to(dtype)
    tall = x.size(-2) > x.size(-1)
    if tall:  # iterate on the smaller Gram matrix
        x = x.mT.contiguous()
    for _ in range(steps):
        gram = x @ x.mT
        # x <- a x + (b G + c G G) x, two fused multiply-adds
        x = torch.baddbmm(x, torch.baddbmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    x = x.float()
    return x.mT if tall else x


class ParamOptimizer:
    """What tinylm's optimizers share: parameter groups, per-parameter state, and a state dict
    in torch.optim's layout (checkpoints written by torch.optim.AdamW load unchanged).

    Not a torch.optim.Optimizer: building one of those imports torch._dynamo (its methods are
    wrapped to keep the compiler out), about 75 MB of resident memory a training run never uses.
    """

    def __init__(self, params: list, defaults: dict) -> None:
        groups = params if params and isinstance(params[0], dict) else [{"params": params}]
        self.param_groups = [{**defaults, **g, "params": list(g["params"])} for g in groups]
        self.state: dict[torch.Tensor, dict] = defaultdict(dict)

    def zero_grad(self) -> None:
        """Drop the gradients (None, not zeros: the next backward writes them fresh)."""
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    def state_dict(self) -> dict:
        """{"state": {index: {name: tensor}}, "param_groups": [{hyperparameters, "params":
        [index]}]}, parameters numbered in group order, as torch.optim numbers them."""
        index = {id(p): i for i, p in enumerate(self._params())}
        groups = [
            {
                **{k: v for k, v in g.items() if k != "params"},
                "params": [index[id(p)] for p in g["params"]],
            }
            for g in self.param_groups
        ]
        state = {index[id(p)]: dict(s) for p, s in self.state.items() if s}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, saved: dict) -> None:
        """Take a state_dict() of an optimizer over parameters of the same groups and sizes;
        anything else is a ValueError, before this optimizer changes."""
        if not (isinstance(saved, dict) and isinstance(saved.get("state"), dict)):
            raise ValueError("optimizer state is not a state dict")
        groups = saved.get("param_groups")
        if not isinstance(groups, list) or [len(g.get("params", ())) for g in groups] != [
            len(g["params"]) for g in self.param_groups
        ]:
            raise ValueError("optimizer state does not match this optimizer's parameters")
        by_index = {
            i: p
            for g, mine in zip(groups, self.param_groups, strict=True)
            for i, p in zip(g["params"], mine["params"], strict=True)
        }
        state: dict[torch.Tensor, dict] = defaultdict(dict)
        for i, s in saved["state"].items():
            p = by_index[int(i)]
            state[p] = {k: self._placed(k, v, p) for k, v in dict(s).items()}
        for g, mine in zip(groups, self.param_groups, strict=True):
            mine.update({k: v for k, v in g.items() if k != "params"})
        self.state = state

    @staticmethod
    def _placed(key: str, value: object, p: torch.Tensor) -> object:
        """A saved state value, copied (never shared with the saver) to its parameter's device;
        moments in its dtype, steps float32."""
        if not isinstance(value, torch.Tensor):
            return value
        if key == "step":
            return value.to(device=p.device, dtype=torch.float32, copy=True)
        if value.shape != p.shape:
            raise ValueError(f"a saved {key} is {tuple(value.shape)}, its weight {tuple(p.shape)}")
        return value.to(device=p.device, dtype=p.dtype, copy=True)

    def _params(self) -> list[torch.Tensor]:
        return [p for g in self.param_groups for p in g["params"]]


class AdamW(ParamOptimizer):
    """AdamW through torch's functional step (fused kernels on CPU and CUDA when asked)."""

    def __init__(
        self,
        params: list,
        lr: float,
        betas: tuple[float, float] = (0.9, 0.95),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        fused: bool = False,
    ) -> None:
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, defaults)
        self.fused = fused

    @torch.no_grad()
    def step(self) -> None:
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            for p in params:
                state = self.state[p]
                if not state:
                    state["step"] = torch.zeros((), dtype=torch.float32, device=p.device)
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            states = [self.state[p] for p in params]
            beta1, beta2 = group["betas"]
            adamw_step(
                params,
                [p.grad for p in params],
                [s["exp_avg"] for s in states],
                [s["exp_avg_sq"] for s in states],
                [],
                [s["step"] for s in states],
                foreach=None if self.fused else True,
                fused=self.fused or None,
                lr=group["lr"],
                beta1=beta1,
                beta2=beta2,
                weight_decay=group["weight_decay"],
                eps=group["eps"],
                amsgrad=False,
                maximize=False,
            )


class Muon(ParamOptimizer):
    """Muon for 2-D weights; same-shaped matrices are orthogonalised in one batched matmul."""

    def __init__(
        self,
        params: list,
        lr: float,
        momentum: float = 0.95,
        weight_decay: float = 0.0,
        ns_dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay})
        self.ns_dtype = ns_dtype  # what the Newton-Schulz iteration runs in

    @torch.no_grad()
    def step(self) -> None:
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
                ortho = newton_schulz(torch.stack([g for _, g in items]), dtype=self.ns_dtype)
                scale = max(1.0, shape[0] / shape[1]) ** 0.5  # equal RMS update for tall matrices
                for (p, _), o in zip(items, ortho, strict=True):
                    if wd:
                        p.mul_(1 - lr * wd)
                    p.add_(o.to(p.dtype), alpha=-lr * scale)


class Optimizers:
    """Several optimizers stepped as one; each group remembers its base learning rate."""

    def __init__(self, optimizers: list[ParamOptimizer]) -> None:
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

    def step_scaled(
        self, scaler: torch.amp.GradScaler, clip: float, params: Iterable[torch.Tensor]
    ) -> None:
        """One step through a grad scaler (fp16; a disabled one passes through), the gradients
        clipped to norm `clip` first when it is set; then zero them."""
        if clip:
            for opt in self.optimizers:
                scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(params, clip)
        if scaler.is_enabled():
            for opt in self.optimizers:
                scaler.step(opt)
            scaler.update()
        else:
            self.step()
        self.zero_grad()

    def zero_grad(self) -> None:
        for opt in self.optimizers:
            opt.zero_grad()

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
    ns_dtype: torch.dtype = torch.float32,
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
    adamw = AdamW([g for g in groups if g["params"]], lr=lr, betas=(0.9, 0.95), fused=fused)
    if kind == "muon":
        return Optimizers(
            [adamw, Muon(matrices, lr=muon_lr, weight_decay=weight_decay, ns_dtype=ns_dtype)]
        )
    return Optimizers([adamw])


def lr_factor(step: int, progress: float, warmup: int, final: float = 0.1) -> float:
    """Linear warmup over `warmup` steps, then cosine from 1 to `final` as progress goes 0 -> 1."""
    if step < warmup:
        return (step + 1) / warmup
    p = min(max(progress, 0.0), 1.0)
    return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * p))
