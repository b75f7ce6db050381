"""Objectives and optimizers: masking rules, loss behaviour, Muon, the LR schedule."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch

from tinylm.data.vocab import MASK_ID
from tinylm.metrics import IGNORE, fixed_masks, mask_tokens
from tinylm.model import ModelConfig, Transformer
from tinylm.train.config import MaskingConfig
from tinylm.train.objectives import causal_loss, masked_loss
from tinylm.train.optim import AdamW, build_optimizers, lr_factor, newton_schulz


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
            else masked_loss(model, inputs, labels)
        )

    first = loss().item()
    assert abs(first - math.log(40)) < 0.3
    for _ in range(40):
        opt.zero_grad()
        loss().backward()
        opt.step()
    assert loss().item() < 0.5 * first


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_newton_schulz_orthogonalises_a_batch(dtype: torch.dtype) -> None:
    g = torch.randn(3, 16, 48, generator=torch.Generator().manual_seed(0))
    o = newton_schulz(g, steps=10, dtype=dtype)
    s = torch.linalg.svdvals(o)
    assert o.shape == g.shape and o.dtype == torch.float32
    assert ((s > 0.6) & (s < 1.25)).all()  # the quintic iteration lands near, not exactly on, 1
    tall = newton_schulz(g.mT, dtype=dtype)
    tol = 1e-5 if dtype == torch.float32 else 2e-2  # bf16 keeps ~3 digits
    torch.testing.assert_close(tall, newton_schulz(g, dtype=dtype).mT, atol=tol, rtol=tol)
    if dtype == torch.bfloat16:  # the same direction as the float32 iteration, to bf16's digits
        torch.testing.assert_close(o, newton_schulz(g, steps=10), atol=5e-2, rtol=0)


def test_lr_schedule() -> None:
    assert lr_factor(0, 0.0, warmup=10) == pytest.approx(0.1)
    assert lr_factor(9, 0.0, warmup=10) == pytest.approx(1.0)
    assert lr_factor(50, 0.0, warmup=10) == pytest.approx(1.0)
    assert lr_factor(50, 0.5, warmup=10) == pytest.approx(0.55)
    assert lr_factor(50, 1.0, warmup=10) == pytest.approx(0.1)
    assert lr_factor(50, 7.0, warmup=10) == pytest.approx(0.1)


def _adamw_pair(fused: bool) -> tuple[list, torch.optim.AdamW, AdamW]:
    g = torch.Generator().manual_seed(0)
    ref = [torch.nn.Parameter(torch.randn(6, 4, generator=g)) for _ in range(2)]
    ours = [torch.nn.Parameter(p.detach().clone()) for p in ref]
    kw = dict(lr=1e-2, betas=(0.9, 0.95), weight_decay=0.1)
    groups = [{"params": ref[:1]}, {"params": ref[1:], "weight_decay": 0.0}]
    mine = [{"params": ours[:1]}, {"params": ours[1:], "weight_decay": 0.0}]
    return [ref, ours], torch.optim.AdamW(groups, fused=fused, **kw), AdamW(mine, fused=fused, **kw)


@pytest.mark.parametrize("fused", [True, False])
def test_adamw_steps_as_torch_adamw_and_takes_its_saved_state(fused: bool) -> None:
    (ref, ours), torch_opt, opt = _adamw_pair(fused)
    g = torch.Generator().manual_seed(1)
    for step in range(6):
        if step == 3:  # continue from torch's saved state, as an older checkpoint would
            opt.load_state_dict(torch_opt.state_dict())
            assert opt.state_dict()["param_groups"][1]["weight_decay"] == 0.0
        for a, b in zip(ref, ours, strict=True):
            a.grad = torch.randn(a.shape, generator=g)
            b.grad = a.grad.clone()
        torch_opt.step()
        opt.step()
        for a, b in zip(ref, ours, strict=True):
            assert torch.allclose(a, b, atol=1e-6), step
    saved = opt.state_dict()
    assert sorted(saved["state"][0]) == ["exp_avg", "exp_avg_sq", "step"]
    assert saved["state"][0]["step"].item() == 6


def test_a_mismatched_optimizer_state_is_refused() -> None:
    (_, ours), _, opt = _adamw_pair(False)
    other = AdamW([torch.nn.Parameter(torch.zeros(3))], lr=1e-2)
    with pytest.raises(ValueError, match="does not match"):
        opt.load_state_dict(other.state_dict())


def test_building_the_optimizers_leaves_the_compiler_unimported() -> None:
    # torch.optim.Optimizer imports torch._dynamo (~75 MB resident) when built: a fresh process
    code = (
        "import sys; from tinylm.train.optim import build_optimizers\n"
        "from tinylm.model import ModelConfig, Transformer\n"
        "m = Transformer(ModelConfig(40, 16, 1, 2, 16, objective='causal', dropout=0.0))\n"
        "opt = build_optimizers(m, 'muon', 1e-3, 0.02, 0.0, True)\n"
        "m(__import__('torch').zeros(1, 4, dtype=__import__('torch').long)).sum().backward()\n"
        "opt.step(); print('torch._dynamo' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
