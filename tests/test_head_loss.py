"""The fused head + cross-entropy (a slice of rows at a time) against the plain computation,
and a batch run as slices of rows against the same batch in one pass."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import tiny_model
from test_training import _losses

import tinylm.head_loss as head_loss
import tinylm.train.trainer as trainer_module
from tinylm.data.tokens import load_token_dir
from tinylm.data.vocab import N_SPECIAL
from tinylm.device import pick_runtime
from tinylm.head_loss import head_nll
from tinylm.metrics import IGNORE
from tinylm.model import ModelConfig, Transformer
from tinylm.train.config import MaskingConfig, TrainConfig
from tinylm.train.objectives import causal_task, diffusion_task, masked_task, task_loss
from tinylm.train.trainer import Trainer


def _leaves(seed: int, n: int = 300, c: int = 16, v: int = 50) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(n, c, generator=g).requires_grad_()
    w = (torch.randn(v, c, generator=g) * 0.3).requires_grad_()
    t = torch.randint(0, v, (n,), generator=g)
    return h, w, t


@pytest.mark.parametrize("chunk", [1 << 20, 64 * 50, 7 * 50])  # one slice, several, uneven
def test_loss_and_gradients_equal_the_plain_cross_entropy(
    chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(head_loss, "CHUNK_ELEMENTS", chunk)
    h, w, t = _leaves(0)
    t[::5] = IGNORE
    plain = F.cross_entropy(h @ w.T, t, ignore_index=IGNORE)
    plain.backward()
    want = h.grad.clone(), w.grad.clone()
    h.grad = w.grad = None
    fused = head_nll(h, w, t)
    fused.backward()
    assert fused.item() == pytest.approx(plain.item(), rel=1e-6)
    assert torch.allclose(h.grad, want[0], atol=1e-7)
    assert torch.allclose(w.grad, want[1], atol=1e-7)


def test_weights_and_banned_tokens() -> None:
    h, w, t = _leaves(1)
    t = t.clamp_min(N_SPECIAL)
    t[:10] = IGNORE
    weights = torch.rand(t.shape, generator=torch.Generator().manual_seed(2))
    logits = (h @ w.T).clone()
    logits[:, :N_SPECIAL] = float("-inf")  # never predicted: no probability at all
    nll = F.cross_entropy(logits, t, ignore_index=IGNORE, reduction="none")
    plain = (nll * weights * (t != IGNORE)).sum()
    plain.backward()
    want = h.grad.clone(), w.grad.clone()
    h.grad = w.grad = None
    fused = head_nll(h, w, t, weights, banned=N_SPECIAL)
    fused.backward()
    assert torch.isfinite(fused)  # an ignored row is 0, not inf x 0
    assert fused.item() == pytest.approx(plain.item(), rel=1e-6)
    assert torch.allclose(h.grad, want[0], atol=1e-6)
    assert torch.allclose(w.grad, want[1], atol=1e-6)
    assert w.grad[:N_SPECIAL].abs().max() == 0  # a banned token gets no gradient either


def test_a_second_backward_scales_by_the_upstream_gradient() -> None:
    h, w, t = _leaves(3)
    (3.0 * head_nll(h, w, t)).backward()
    want = h.grad.clone()
    h.grad = w.grad = None
    head_nll(h, w, t).backward()
    assert torch.allclose(want, 3.0 * h.grad)


def _grads(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.grad.clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("objective", ["causal", "masked", "diffusion"])
def test_a_batch_in_slices_has_the_loss_and_gradients_of_one_pass(objective: str) -> None:
    torch.manual_seed(0)
    model = tiny_model(60, 16, objective)
    window = 17 if objective == "causal" else 16
    batch = torch.randint(0, 60, (10, window), generator=torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(2)
    if objective == "causal":
        task = causal_task(batch)
    elif objective == "masked":
        task = masked_task(batch, 60, MaskingConfig(), g)
    else:
        task = diffusion_task(batch, g)
    whole = task_loss(model, task)
    whole.backward()
    want = _grads(model)
    model.zero_grad()
    total = 0.0
    for part in (slice(0, 3), slice(3, 6), slice(6, 9), slice(9, 10)):
        loss = task_loss(model, task.rows(part))
        loss.backward()
        total += loss.item()
    assert total == pytest.approx(whole.item(), rel=1e-5)
    for name, grad in _grads(model).items():
        assert torch.allclose(grad, want[name], atol=1e-6), name


@pytest.mark.parametrize("objective", ["causal", "masked", "diffusion"])
def test_the_trainer_runs_a_cpu_batch_in_slices_to_the_same_losses(
    objective: str, tmp_path: Path, token_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = load_token_dir(token_dir)
    losses = {}
    for tokens in (16, 10_000):  # a window per slice (4 slices a step), or the batch in one
        monkeypatch.setattr(trainer_module, "CPU_SLICE_TOKENS", tokens)
        torch.manual_seed(0)
        cfg = ModelConfig(data.vocab_size, 16, 2, 2, 16, objective=objective, dropout=0.0)
        out = tmp_path / str(tokens)
        out.mkdir()
        train = TrainConfig(batch_size=4, max_steps=5, eval_every=5, log_every=1, warmup=2)
        trainer = Trainer(
            Transformer(cfg), train, data, pick_runtime(torch.device("cpu")), out, lambda e: None
        )
        steps = len(trainer._slices(train.batch_size))
        trainer.run()
        losses[tokens] = _losses(out)
        assert steps == (4 if tokens == 16 else 1)
    assert losses[16].keys() == losses[10_000].keys() and len(losses[16]) == 5
    for step, loss in losses[16].items():
        assert loss == pytest.approx(losses[10_000][step], rel=1e-4), step
