"""The output head and its cross-entropy in one pass, a slice of rows at a time.

The plain way (logits = h @ Wᵀ, then cross_entropy) keeps whole (rows x vocabulary) float32
tensors alive through the backward pass: the logits, their log-softmax and two gradients, 32 MiB
each at the default tiny preset (64 x 64 rows, 2048 tokens), the largest part of a training
step's memory. Here each slice of rows makes its logits, turns them into the loss and, since
d loss / d logits = softmax - one-hot is known as soon as the softmax is, into its gradients for
the hidden states and the head at once; only those (rows x width, vocabulary x width) outlive the
slice. The backward pass then just scales them. Same numbers as the plain way up to the order of
float sums; same matmuls, so no slower.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from tinylm.metrics import IGNORE

CHUNK_ELEMENTS = 1 << 20  # logits per slice (4 MiB in float32): small next to the step


def _matmul_dtype(x: torch.Tensor) -> torch.dtype:
    """What autocast would compute the head in (bf16/fp16 on a GPU under it), else x's dtype."""
    kind = x.device.type
    if torch.is_autocast_enabled(kind):
        return torch.get_autocast_dtype(kind)
    return x.dtype


def _slice_logits(
    h: torch.Tensor, w: torch.Tensor, banned: int
) -> Iterator[tuple[slice, torch.Tensor, torch.Tensor]]:
    """Rows of h a slice at a time: (the slice, its float32 logits, their log-sum-exp), the head
    `w` already in the matmul's dtype; the first `banned` tokens get no probability."""
    rows = max(1, CHUNK_ELEMENTS // w.size(0))
    for s in range(0, h.size(0), rows):
        part = slice(s, s + rows)
        logits = (h[part].to(w.dtype) @ w.mT).float()
        if banned:  # tokens that are never a target ([MASK] and the other specials)
            logits[:, :banned] = float("-inf")
        yield part, logits, torch.logsumexp(logits, dim=-1)


class _HeadNLL(torch.autograd.Function):
    @staticmethod
    def forward(  # noqa: ANN205 - torch's signature
        ctx,  # noqa: ANN001
        h: torch.Tensor,
        weight: torch.Tensor,
        targets: torch.Tensor,
        scale: torch.Tensor,
        banned: int,
    ):
        need_grad = ctx.needs_input_grad[0] or ctx.needs_input_grad[1]
        grad_h = torch.zeros_like(h, dtype=torch.float32) if need_grad else None
        grad_w = torch.zeros_like(weight, dtype=torch.float32) if need_grad else None
        nll = torch.empty(h.size(0), dtype=torch.float32, device=h.device)
        w = weight.to(_matmul_dtype(h))
        for part, logits, lse in _slice_logits(h, w, banned):
            t = targets[part].clamp_min(0)  # IGNORE rows carry no weight: any index does
            nll[part] = lse - logits.gather(1, t[:, None]).squeeze(1)
            if need_grad:
                probs = logits.sub_(lse[:, None]).exp_()  # softmax, in the logits' memory
                probs[torch.arange(t.numel(), device=t.device), t] -= 1.0
                g = probs.mul_(scale[part, None]).to(w.dtype)
                grad_h[part] = (g @ w).float()
                grad_w.add_((g.mT @ h[part].to(w.dtype)).float())
        ctx.save_for_backward(grad_h, grad_w)
        ctx.dtypes = (h.dtype, weight.dtype)
        # an ignored row may hold a banned index (inf): weight 0 must still mean 0
        return torch.where(scale != 0, nll * scale, 0.0).sum()

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):  # noqa: ANN001, ANN205 - torch's signature
        grad_h, grad_w = ctx.saved_tensors
        dh = (grad_h * grad_out).to(ctx.dtypes[0]) if ctx.needs_input_grad[0] else None
        dw = (grad_w * grad_out).to(ctx.dtypes[1]) if ctx.needs_input_grad[1] else None
        return dh, dw, None, None, None


@torch.no_grad()
def head_token_nll(
    h: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, banned: int = 0
) -> torch.Tensor:
    """−log softmax(h_i Wᵀ)[target_i] for each row (N,), a slice at a time, for evaluation:
    no gradients, and never all the logits at once. Targets must be real tokens (no IGNORE)."""
    h, targets = h.reshape(-1, h.size(-1)), targets.reshape(-1)
    out = torch.empty(h.size(0), dtype=torch.float32, device=h.device)
    for part, logits, lse in _slice_logits(h, weight.to(_matmul_dtype(h)), banned):
        out[part] = lse - logits.gather(1, targets[part, None]).squeeze(1)
    return out


def head_nll(
    h: torch.Tensor,
    weight: torch.Tensor,
    targets: torch.Tensor,
    scale: torch.Tensor | None = None,
    banned: int = 0,
) -> torch.Tensor:
    """Σ_i scale_i · −log softmax(h_i Wᵀ)[target_i] over rows h (N, C) and a head W (V, C).

    Without `scale`: the mean over the targets that are not IGNORE. Targets equal to IGNORE never
    count. The first `banned` tokens of the vocabulary get no probability (never predicted).
    """
    h = h.reshape(-1, h.size(-1))
    targets = targets.reshape(-1)
    valid = (targets != IGNORE).float()
    if scale is None:
        scale = valid / valid.sum().clamp_min(1.0)
    else:
        scale = scale.reshape(-1).float() * valid
    return _HeadNLL.apply(h, weight, targets, scale, banned)
