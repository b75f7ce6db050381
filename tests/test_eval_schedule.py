"""Evaluations spaced by time as well as steps: when they happen, what they cost, and that they
leave an exact resume exact. The trainer's clock is driven by the test (one second per step), so
nothing here depends on the machine's speed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import TINY_TRAIN, run_cli

from tinylm.checkpoint import load_checkpoint, load_trainer_state
from tinylm.data.tokens import load_token_dir
from tinylm.device import pick_runtime
from tinylm.model import ModelConfig, Transformer
from tinylm.train.config import EVAL_SHARE, TrainConfig
from tinylm.train.trainer import Trainer


class Clock:
    """A clock that moves one second per training step, plus `eval_cost` per evaluation."""

    def __init__(self, eval_cost: float = 0.0) -> None:
        self.now = 0.0
        self.eval_cost = eval_cost

    def __call__(self) -> float:
        return self.now

    def step(self) -> bool:  # the trainer asks should_stop once per step
        self.now += 1.0
        return False

    def saved(self, event: dict) -> None:  # an evaluation saves last/ first
        if event["event"] == "save" and event["checkpoint"] == "last":
            self.now += self.eval_cost


def _trainer(token_dir: Path, out: Path, clock: Clock, stop_at: int | None = None, **kw):
    data = load_token_dir(token_dir)
    torch.manual_seed(0)
    shape = dict(block_size=16, n_layer=1, n_head=2, d_model=16, dropout=0.1)
    model = Transformer(ModelConfig(vocab_size=data.vocab_size, objective="causal", **shape))
    cfg = TrainConfig(batch_size=4, log_every=1, warmup=2, **kw)
    out.mkdir(parents=True, exist_ok=True)

    def should_stop() -> bool:
        return clock.step() or (stop_at is not None and trainer.progress.step >= stop_at)

    runtime = pick_runtime(torch.device("cpu"))
    trainer = Trainer(model, cfg, data, runtime, out, clock.saved, should_stop=should_stop)
    trainer.clock = clock
    return trainer


def _events(out: Path, kind: str) -> list[dict]:
    lines = (out / "metrics.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["event"] == kind]


def test_a_time_budget_evaluates_every_eval_seconds_and_at_the_end(
    tmp_path: Path, token_dir: Path
) -> None:
    trainer = _trainer(token_dir, tmp_path, Clock(), time_limit=10.0, eval_seconds=3.0)
    assert trainer.run()["step"] == 10
    assert [e["step"] for e in _events(tmp_path, "eval")] == [3, 6, 9, 10]


def test_steps_and_seconds_both_count_and_each_eval_restarts_the_clock(
    tmp_path: Path, token_dir: Path
) -> None:
    trainer = _trainer(
        token_dir, tmp_path, Clock(), time_limit=12.0, eval_seconds=4.0, eval_every=5
    )
    trainer.run()
    assert [e["step"] for e in _events(tmp_path, "eval")] == [4, 5, 9, 10, 12]


def test_a_budget_of_steps_evaluates_by_steps_only(tmp_path: Path, token_dir: Path) -> None:
    trainer = _trainer(token_dir, tmp_path, Clock(), max_steps=10, eval_seconds=1.0, eval_every=4)
    trainer.run()
    assert [e["step"] for e in _events(tmp_path, "eval")] == [4, 8, 10]


def test_time_spaced_evals_keep_to_their_share_of_the_clock(
    tmp_path: Path, token_dir: Path
) -> None:
    # each eval costs 0.5 s: at most 5 %, so they come every 10 s, not every 2 s
    clock = Clock(eval_cost=0.5)
    trainer = _trainer(token_dir, tmp_path, clock, time_limit=40.0, eval_seconds=2.0)
    trainer.run()
    evals = _events(tmp_path, "eval")
    assert [e["step"] for e in evals][:4] == [2, 12, 22, 32]
    assert all(e["seconds"] == 0.5 for e in evals[:-1])
    spaced = sum(e["seconds"] for e in evals[:-1])  # the final eval is the run's, not spaced
    assert spaced / trainer.progress.elapsed <= EVAL_SHARE


def test_a_resumed_time_budget_continues_exactly(tmp_path: Path, token_dir: Path) -> None:
    budget = dict(time_limit=10.0, eval_seconds=3.0)
    whole = _trainer(token_dir, tmp_path / "whole", Clock(), **budget)
    whole.run()
    cut = _trainer(token_dir, tmp_path / "cut", Clock(), stop_at=4, **budget)
    assert cut.run()["reason"] == "stopped"
    state, optim = load_trainer_state(tmp_path / "cut" / "last")
    assert state["next_eval"] == 7.0  # the final eval at step 4 restarted the clock
    again = _trainer(token_dir, tmp_path / "cut", Clock(), **budget)
    again.model.load_state_dict(load_checkpoint(tmp_path / "cut" / "last").model.state_dict())
    again.load_state(state, optim)
    again.run()
    want = {e["step"]: e["loss"] for e in _events(tmp_path / "whole", "step")}
    got = {e["step"]: e["loss"] for e in _events(tmp_path / "cut", "step")}
    assert got == want  # the same losses, step for step, bit for bit
    assert [e["step"] for e in _events(tmp_path / "cut", "eval")] == [3, 4, 7, 10]


@pytest.mark.parametrize("value", ["-1", "nan", "ten"])
def test_eval_seconds_out_of_range_is_a_usage_error(
    tmp_path: Path, token_dir: Path, value: str
) -> None:
    out = tmp_path / "run"
    r = run_cli("train", str(token_dir), "--max-steps", "1", "--eval-seconds", value,
                "--out", str(out), *TINY_TRAIN)  # fmt: skip
    assert r.exit_code == 2
    assert "--eval-seconds" in r.stderr and not out.exists()


def test_eval_seconds_is_saved_and_a_resume_may_change_it(tmp_path: Path, token_dir: Path) -> None:
    out = tmp_path / "run"
    r = run_cli("train", str(token_dir), "--max-steps", "2", "--eval-seconds", "7",
                "--out", str(out), *TINY_TRAIN)  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads((out / "run.json").read_text())["train"]["eval_seconds"] == 7.0
    r = run_cli("train", "--resume", str(out), "--max-steps", "3", "--eval-seconds", "0", "-q")
    assert r.exit_code == 0, r.output
    state = json.loads((out / "last" / "trainer_state.json").read_text())
    assert state["step"] == 3 and state["train_config"]["eval_seconds"] == 0.0
