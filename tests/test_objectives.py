"""Objectives and optimizers: masking rules, loss behaviour, Muon, the LR schedule."""

from __future__ import annotations

import math

import pytest
import torch

from tinylm.data.vocab import MASK_ID
from tinylm.metrics import IGNORE, fixed_masks, mask_tokens
from tinylm.model import ModelConfig, Transformer
from tinylm.train.config import MaskingConfig
from tinylm.train.objectives import causal_loss, masked_loss
from tinylm.train.optim import build_optimizers, lr_factor, newton_schulz


def _ids(shape=(64, 128), seed=0) -> torch.Tensor:
    """Random ids with plenty of special tokens (0-4) sprinkled in."""
    return torch.randint(0, 40, shape, generator=torch.Generator().manual_seed(seed))


def test_masking_never_touches_special_tokens_and_hits_the_rate() -> None:
    idx = _ids()
    special = idx < 5
    inputs, labels = mask_tokens(idx, 40, MaskingConfig(rate=0.3), torch.Generator().manual_seed(1))
    assert torch.equal(inputs[special], idx[special])
    assert (labels[special] == IGNORE).all()
    chosen = labels != IGNORE
    assert torch.equal(labels[chosen], idx[chosen])
    rate = chosen.sum().item() / (~special).sum().item()
    assert abs(rate - 0.3) < 0.02
    # 80 % become [MASK], 10 % a random non-special token, 10 % stay as they were
    became_mask = (inputs[chosen] == MASK_ID).float().mean().item()
    unchanged = (inputs[chosen] == idx[chosen]).float().mean().item()
    assert abs(became_mask - 0.8) < 0.03
    assert 0.08 < unchanged < 0.14  # 10 % kept, plus random draws that hit the same token
    assert (inputs[chosen & (inputs != MASK_ID)] >= 5).all()
    assert (inputs[~chosen] == idx[~chosen]).all()


def test_masking_is_seeded_and_options_apply() -> None:
    idx = _ids()
    a = mask_tokens(idx, 40, MaskingConfig(), torch.Generator().manual_seed(3))
    b = mask_tokens(idx, 40, MaskingConfig(), torch.Generator().manual_seed(3))
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    inputs, labels = mask_tokens(idx, 40, MaskingConfig(rate=0.15, p_mask=1.0, p_random=0.0))
    chosen = labels != IGNORE
    assert (inputs[chosen] == MASK_ID).all()
    with pytest.raises(ValueError, match="mask rate"):
        MaskingConfig(rate=0.0)


def test_eval_masks_are_fixed_and_fifteen_percent() -> None:
    windows = _ids((32, 64))
    (i1, l1), (i2, l2) = fixed_masks(windows), fixed_masks(windows)
    assert torch.equal(i1, i2) and torch.equal(l1, l2)
    rate = (l1 != IGNORE).sum().item() / (windows >= 5).sum().item()
    assert abs(rate - 0.15) < 0.02


@pytest.mark.parametrize("objective", ["causal", "masked"])
@pytest.mark.parametrize("optimizer", ["adamw", "muon"])
def test_loss_drops_on_a_repeated_batch(objective: str, optimizer: str) -> None:
    torch.manual_seed(0)
    model = Transformer(
        ModelConfig(
            vocab_size=40,
            block_size=16,
            n_layer=2,
            n_head=2,
            d_model=32,
            dropout=0.0,
            objective=objective,
        )
    )
    opt = build_optimizers(model, optimizer, 3e-3, 0.02, 0.0, fused=False)
    batch = _ids((8, 17), seed=5)
    inputs, labels = mask_tokens(
        batch[:, :16], 40, MaskingConfig(), torch.Generator().manual_seed(0)
    )

    def loss() -> torch.Tensor:
        return (
            causal_loss(model, batch)
            if objective == "causal"
            else masked_loss(model, inputs, labels)[0]
        )

    first = loss().item()
    assert abs(first - math.log(40)) < 0.3
    for _ in range(40):
        opt.zero_grad()
        loss().backward()
        opt.step()
    assert loss().item() < 0.5 * first


def test_newton_schulz_orthogonalises_a_batch() -> None:
    g = torch.randn(3, 16, 48, generator=torch.Generator().manual_seed(0))
    o = newton_schulz(g, steps=10)
    s = torch.linalg.svdvals(o)
    assert o.shape == g.shape
    assert ((s > 0.6) & (s < 1.25)).all()  # the quintic iteration lands near, not exactly on, 1
    tall = newton_schulz(g.mT)
    torch.testing.assert_close(tall, newton_schulz(g).mT, atol=1e-5, rtol=1e-4)


def test_lr_schedule() -> None:
    assert lr_factor(0, 0.0, warmup=10) == pytest.approx(0.1)
    assert lr_factor(9, 0.0, warmup=10) == pytest.approx(1.0)
    assert lr_factor(50, 0.0, warmup=10) == pytest.approx(1.0)
    assert lr_factor(50, 0.5, warmup=10) == pytest.approx(0.55)
    assert lr_factor(50, 1.0, warmup=10) == pytest.approx(0.1)
    assert lr_factor(50, 7.0, warmup=10) == pytest.approx(0.1)
