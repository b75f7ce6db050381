"""The loss and metric core: NLL reductions and bits per byte by hand, the fixed eval masks."""

from __future__ import annotations

import math

import pytest
import torch

from tinylm.data.vocab import MASK_ID, N_SPECIAL
from tinylm.metrics import (
    EVAL_MASK_RATE,
    EVAL_MASK_SEED,
    IGNORE,
    bits_per_byte,
    fixed_masks,
    next_token_nll,
)


def _hand_nll(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """-log softmax(logits)[target], written out: log sum exp minus the target's logit."""
    x = logits.double()
    lse = x.exp().sum(-1).log()
    return lse - x.gather(-1, targets.clamp(min=0)[..., None])[..., 0]


def test_next_token_nll_matches_a_hand_computation_for_each_reduction() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 5, 11, generator=g)
    targets = torch.randint(0, 11, (3, 5), generator=g)
    targets[0, 1] = targets[2, 4] = IGNORE  # carry no loss
    hand = _hand_nll(logits, targets)
    keep = targets != IGNORE
    none = next_token_nll(logits, targets, reduction="none")
    assert none.shape == targets.shape and none.dtype == torch.float32
    torch.testing.assert_close(none[keep].double(), hand[keep])
    assert (none[~keep] == 0).all()
    total = next_token_nll(logits, targets, reduction="sum")
    assert float(total) == pytest.approx(float(hand[keep].sum()), rel=1e-6)
    mean = next_token_nll(logits, targets)  # "mean" by default, over the counted targets
    assert float(mean) == pytest.approx(float(hand[keep].mean()), rel=1e-6)


def test_next_token_nll_is_float32_for_half_precision_logits() -> None:
    logits = torch.randn(4, 7, generator=torch.Generator().manual_seed(1))
    targets = torch.tensor([1, 2, 3, 4])
    out = next_token_nll(logits.bfloat16(), targets, reduction="none")
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, next_token_nll(logits.bfloat16().float(), targets, "none"))


def test_bits_per_byte_is_nats_over_ln2_over_bytes() -> None:
    nats, tokens, n_bytes = 1234.5, 500, 1800
    bpb = bits_per_byte(nats / tokens, n_bytes / tokens)
    assert bpb == pytest.approx(nats / math.log(2) / n_bytes, rel=1e-12)
    assert bits_per_byte(math.log(2), 1.0) == pytest.approx(1.0)  # one bit per one-byte token


def test_fixed_masks_equal_the_former_formula() -> None:
    """Built by mask_tokens, the eval masks hide exactly the positions the old code hid."""
    windows = torch.randint(0, 40, (16, 48), generator=torch.Generator().manual_seed(7))
    for rate in (EVAL_MASK_RATE, 0.3):
        g = torch.Generator().manual_seed(EVAL_MASK_SEED)
        chosen = (torch.rand(windows.shape, generator=g) < rate) & (windows >= N_SPECIAL)
        old_inputs = torch.where(chosen, torch.full_like(windows, MASK_ID), windows)
        old_labels = torch.where(chosen, windows, torch.full_like(windows, IGNORE))
        inputs, labels = fixed_masks(windows, rate)
        assert torch.equal(inputs, old_inputs) and torch.equal(labels, old_labels)
