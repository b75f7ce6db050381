"""The diffusion objective and its likelihood bound, against hand and exact computations."""

import math

import pytest
import torch
from conftest import tiny_model

from tinylm.data.vocab import EOS_ID, MASK_ID, N_SPECIAL
from tinylm.elbo import (
    EPS,
    diffusion_masks,
    draw_rates,
    exact_nelbo,
    nelbo_draws,
)
from tinylm.model import Transformer
from tinylm.train.objectives import diffusion_loss


def _model() -> Transformer:
    return tiny_model(24, 16)


def test_rates_are_low_discrepancy_and_in_range():
    t = draw_rates(8, torch.Generator().manual_seed(0))
    assert ((t >= EPS) & (t < 1)).all()
    gaps = (t.sort().values.diff() * 8 / (1 - EPS)).tolist()
    assert all(g == pytest.approx(1.0, abs=1e-5) for g in gaps)  # one per stratum


def test_masks_only_hide_text_tokens_and_always_with_mask():
    idx = torch.tensor([[EOS_ID, 7, 8, 9, EOS_ID, 10] * 4])
    inputs, chosen = diffusion_masks(idx, torch.tensor([0.999]), torch.Generator().manual_seed(1))
    assert not chosen[idx < N_SPECIAL].any()
    assert (inputs[chosen] == MASK_ID).all() and (inputs[~chosen] == idx[~chosen]).all()
    assert chosen.sum() > 0


def test_loss_equals_a_hand_computation():
    model = _model()
    idx = torch.tensor([[5, 6, 7, 8, 9, 10, EOS_ID, 11], [12, 13, 14, 15, 16, 17, 18, 19]])
    loss = diffusion_loss(model, idx, torch.Generator().manual_seed(4))
    g = torch.Generator().manual_seed(4)  # the same draws, by hand
    rates = draw_rates(2, g)
    inputs, chosen = diffusion_masks(idx, rates, g)
    logits = model(inputs).float()
    logits[..., :N_SPECIAL] = float("-inf")
    logp = logits.log_softmax(-1).gather(-1, idx[..., None])[..., 0]
    by_hand = (
        sum(-logp[b, i] / rates[b] for b in range(2) for i in range(8) if chosen[b, i])
        / idx.numel()
    )
    assert chosen.any()
    assert float(loss.detach()) == pytest.approx(float(by_hand.detach()), rel=1e-5)


def test_specials_are_never_predicted():
    model = _model()
    idx = torch.tensor([[5, 6, 7, 8]])
    chosen = torch.ones_like(idx, dtype=torch.bool)
    inputs = torch.full_like(idx, MASK_ID)
    logits = model(inputs, select=chosen).float()
    logits[:, :N_SPECIAL] = float("-inf")
    assert (logits.softmax(-1)[:, :N_SPECIAL] == 0).all()


def test_monte_carlo_elbo_matches_exact_enumeration():
    model = _model()
    ids = [5, 9, EOS_ID, 13, 7, 21, 11, 6]  # 7 maskable tokens: 127 mask sets
    exact = exact_nelbo(model, ids)
    draws = nelbo_draws(model, torch.tensor([ids] * 400), 8, torch.Generator().manual_seed(0))
    estimate = float(draws.mean())
    se = float(draws.std()) / math.sqrt(draws.numel())
    assert abs(estimate - exact) < 4 * se + 1e-3 * exact
    assert se < 0.02 * exact  # enough draws for the comparison to mean something


def test_exact_elbo_bounds_the_true_likelihood_from_above():
    """For a model that ignores context the bound is tight: Σ −log p(x_i) exactly."""
    model = _model()
    with torch.no_grad():
        for block in model.blocks:  # no attention or MLP contribution, no view of the context
            block.attn.proj.weight.zero_()
            block.mlp.proj.weight.zero_()
    ids = [5, 9, 13, 7]
    x = torch.tensor([ids])
    inputs = torch.full_like(x, MASK_ID)
    logits = model(inputs).float()
    logits[..., :N_SPECIAL] = float("-inf")
    nll = -logits.log_softmax(-1)[0].gather(-1, x[0, :, None]).sum()
    assert exact_nelbo(model, ids) == pytest.approx(float(nll.detach()), rel=1e-5)


def test_eval_bound_reports_its_error_and_covers_text_tokens_only():
    from tinylm.infer.scoring import elbo_nats

    model = _model()
    ids = torch.randint(N_SPECIAL, 24, (200,)).numpy()
    ids[::10] = EOS_ID
    nats4, se4, count = elbo_nats(model, ids, 96, draws=4)
    nats32, se32, _ = elbo_nats(model, ids, 96, draws=32)
    assert count == 6 * 16 - 10  # six windows of 16; every tenth token is a special
    assert 0 < se32 < se4  # more draws, less Monte-Carlo noise
    assert abs(nats4 - nats32) < 4 * (se4 + se32)  # the same quantity


@pytest.mark.parametrize("family", ["masked", "diffusion"])
def test_eval_of_a_bidirectional_run_reports_the_bound_first(runs, family):
    import json

    from conftest import run_cli

    r = run_cli("eval", str(runs[family]), "--json", "--max-tokens", "64")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["objective"] == family
    assert out["bits_per_byte"] > 0 and out["bits_per_byte_se"] > 0
    assert out["pseudo_bits_per_byte"] > 0 and 0 <= out["masked_top1"] <= 1
    table = run_cli("eval", str(runs[family]), "--max-tokens", "64")
    assert "Monte-Carlo standard error" in table.stdout and "not a bound" in table.stdout
