"""Training objectives, outside the model: next-token prediction, masked-token reconstruction
(BERT) and masked diffusion (unmasking at every rate, MDLM).

Each objective turns a batch into a `Task`: the model's inputs, the targets and each target's
weight, normalised over the whole batch. So the loss of the batch is the sum of its rows' losses,
and the trainer can run a batch as several slices of rows (each slice's activations freed by its
backward pass) with the same loss and gradients as one pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from tinylm.data.vocab import N_SPECIAL
from tinylm.elbo import diffusion_masks, draw_rates
from tinylm.head_loss import head_nll
from tinylm.metrics import IGNORE, mask_tokens
from tinylm.model import ModelConfig, Transformer
from tinylm.train.config import MaskingConfig


@dataclass(frozen=True)
class Task:
    """What a batch asks of the model: inputs (B, T), targets (B, T) (IGNORE: none there), their
    weights (B, T), and whether the head runs only at the targets (the masked objectives)."""

    inputs: torch.Tensor
    targets: torch.Tensor
    weights: torch.Tensor
    sparse: bool = False
    banned: int = 0  # tokens never predicted: the first `banned` of the vocabulary

    def rows(self, part: slice) -> Task:
        """The same task for some rows of the batch (weights stay normalised over the batch)."""
        return Task(
            self.inputs[part], self.targets[part], self.weights[part], self.sparse, self.banned
        )


def causal_task(batch: torch.Tensor) -> Task:
    """Next-token prediction over windows (B, T + 1): every position teaches, equally."""
    targets = batch[:, 1:]
    weights = torch.full(targets.shape, 1.0 / targets.numel(), device=batch.device)
    return Task(batch[:, :-1], targets, weights)


def masked_task(
    batch: torch.Tensor,
    vocab_size: int,
    masking: MaskingConfig,
    generator: torch.Generator | None = None,
) -> Task:
    """BERT: hide ~rate of the tokens (80/10/10), rebuild them; the mean over the hidden ones."""
    inputs, labels = mask_tokens(batch, vocab_size, masking, generator)
    return labelled_task(inputs, labels)


def labelled_task(inputs: torch.Tensor, labels: torch.Tensor) -> Task:
    """Rebuild the labelled positions (IGNORE elsewhere), each counting equally."""
    chosen = labels != IGNORE
    weights = chosen.float() / chosen.sum().clamp_min(1)
    return Task(inputs, labels, weights, sparse=True)


def diffusion_task(idx: torch.Tensor, generator: torch.Generator | None = None) -> Task:
    """The negative ELBO per token of the batch: Σ masked CE / t, over B·T (not over the masked);
    [MASK] and the other specials are never predicted (MDLM's "SUBS")."""
    rates = draw_rates(idx.size(0), generator).to(idx.device)
    inputs, chosen = diffusion_masks(idx, rates, generator)
    targets = torch.where(chosen, idx, torch.full_like(idx, IGNORE))
    weights = chosen.float() / (rates[:, None] * idx.numel())
    return Task(inputs, targets, weights, sparse=True, banned=N_SPECIAL)


def objective_task(
    cfg: ModelConfig,
    masking: MaskingConfig,
    batch: torch.Tensor,
    generator: torch.Generator | None = None,
) -> tuple[Task, int]:
    """The task a model's objective makes of a batch, and the tokens the batch counts for."""
    if cfg.causal:
        return causal_task(batch), batch[:, 1:].numel()
    if cfg.objective == "diffusion":
        return diffusion_task(batch, generator), batch.numel()
    return masked_task(batch, cfg.vocab_size, masking, generator), batch.numel()


def row_slices(rows: int, window: int, tokens: int) -> list[slice]:
    """Equal slices of a batch's rows of about `tokens` tokens each, no stub at the end (64
    windows of 65 tokens in slices of 1024: 4 of 16)."""
    count = max(1, round(rows * window / tokens))
    size = math.ceil(rows / count)
    return [slice(i, i + size) for i in range(0, rows, size)]


def task_loss(model: Transformer, task: Task, net: torch.nn.Module | None = None) -> torch.Tensor:
    """Σ weight · −log p(target) over the task's targets.

    `net` runs the forward pass when it wraps `model` (torch.compile, DDP); the head's weight is
    always `model`'s. The head and the loss run a slice at a time (tinylm.head_loss)."""
    net = net or model
    if not task.sparse:
        h = net(task.inputs, logits=False)
        return head_nll(h, model.head.weight, task.targets, task.weights, task.banned)
    select = task.targets != IGNORE
    h = net(task.inputs, select=select, logits=False)  # the head only where it is needed
    if not select.any():
        return h.sum() * 0.0
    return head_nll(h, model.head.weight, task.targets[select], task.weights[select], task.banned)


def causal_loss(model: Transformer, batch: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy of windows (B, T + 1)."""
    return task_loss(model, causal_task(batch))


def masked_loss(model: Transformer, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy at the labelled positions."""
    return task_loss(model, labelled_task(inputs, labels))


def diffusion_loss(
    model: Transformer, idx: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """The diffusion objective's loss of one batch (see diffusion_task)."""
    return task_loss(model, diffusion_task(idx, generator))
