"""The benchmarks' model and trainer variants still train and evaluate on tinylm's own step.

Nothing else imports bench/ code, so a change to the model's or trainer's interface breaks it
unseen until someone runs an hour-long benchmark (it happened: the sliced head's `logits=False`
broke the speedrun and blank-recipe variants for sessions). Tiny model, a few steps each.
"""

from __future__ import annotations

import math
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from conftest import tiny_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from blank_variants import VARIANTS, settled, variant_setup  # noqa: E402 - bench/ is not a package
from speedrun_variants import (  # noqa: E402
    CAUSAL_ONLY,
    TECHNIQUES,
    build,
    cap_of,
    soft_capped_heads,
    trainer_for,
)

from tinylm.data.tokens import TokenData, fixed_windows, load_token_dir  # noqa: E402
from tinylm.device import pick_runtime  # noqa: E402
from tinylm.metrics import next_token_nll  # noqa: E402
from tinylm.model import ModelConfig  # noqa: E402
from tinylm.train.config import TrainConfig  # noqa: E402
from tinylm.train.objectives import causal_task, task_loss  # noqa: E402
from tinylm.validate import evaluate  # noqa: E402

RUNTIME = pick_runtime(torch.device("cpu"))
SHAPE = ("n_layer", "n_head", "d_model", "block_size")
CASES = [
    (objective, name)
    for objective in ("causal", "masked")
    for name in TECHNIQUES
    if objective == "causal" or name not in CAUSAL_ONLY
]


def _cfg(vocab_size: int, objective: str) -> ModelConfig:
    return tiny_model(vocab_size, 16, objective).config


def _val(model: torch.nn.Module, data: TokenData) -> dict:
    """tinylm's validation figures on a few fixed val windows."""
    cfg = model.config
    return evaluate(model, fixed_windows(data.val, cfg.block_size + cfg.causal, 8), RUNTIME, 1.0)


@pytest.mark.parametrize(("objective", "name"), CASES)
def test_every_variant_trains_and_evaluates(
    token_dir: Path, tmp_path: Path, objective: str, name: str
) -> None:
    data = load_token_dir(token_dir)
    cfg = _cfg(data.vocab_size, objective)
    spec = frozenset({name})
    torch.manual_seed(0)
    model = build(cfg, spec)
    tcfg = TrainConfig(batch_size=4, max_steps=3, seed=0, warmup=1)
    trainer = trainer_for(spec, 1.0)(model, tcfg, data, RUNTIME, tmp_path, lambda e: None)
    before = [p.detach().clone() for p in model.parameters()]
    with soft_capped_heads(cap_of(spec)):
        losses = [trainer.train_step(1.0) for _ in range(3)]
        val = _val(model, data)
    assert all(math.isfinite(x) for x in losses)
    assert math.isfinite(val["val_loss"])
    moved = [not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True)]
    assert any(moved)


def test_soft_cap_trains_on_the_capped_logits() -> None:
    """The sliced head knows no cap: during a soft-cap run the loss must be that of the model's
    own (capped) logits, and it must differ from the uncapped head's when logits are large."""
    cfg = _cfg(65, "causal")
    spec = frozenset({"softcap15"})
    torch.manual_seed(0)
    model = build(cfg, spec)
    with torch.no_grad():
        model.head.weight.mul_(300)  # logits far past the cap
    x = torch.randint(0, 65, (4, 17))
    expected = next_token_nll(model(x[:, :-1]), x[:, 1:])
    with soft_capped_heads(cap_of(spec)):
        capped = task_loss(model, causal_task(x))
    plain = task_loss(model, causal_task(x))
    assert torch.allclose(capped, expected, rtol=1e-5)
    assert not torch.allclose(plain, expected, rtol=1e-2)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_blank_recipe_trains_and_evaluates(
    token_dir: Path, tmp_path: Path, name: str
) -> None:
    data = load_token_dir(token_dir)
    small = _cfg(data.vocab_size, "causal")
    shape = {k: getattr(small, k) for k in SHAPE}
    cfg, tcfg, build_model, trainer_cls = variant_setup(name, data.vocab_size, 1.0, 0, shape)
    torch.manual_seed(0)
    model = build_model(cfg)
    tcfg = replace(tcfg, batch_size=4, warmup=1)
    trainer = trainer_cls(model, tcfg, data, RUNTIME, tmp_path, lambda e: None)
    losses = [trainer.train_step(1.0) for _ in range(2)]
    val = _val(settled(model, cfg), data)
    assert all(math.isfinite(x) for x in losses)
    assert math.isfinite(val["val_loss"])
