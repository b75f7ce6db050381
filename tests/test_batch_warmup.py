"""A smaller batch for the first share of the budget (TrainConfig.batch_warmup)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import TINY_TRAIN, run_cli, train_option
from test_training import _losses, _resume_last, _trainer


def _tokens(out: Path) -> dict[int, int]:
    events = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return {e["step"]: e["tokens"] for e in events if e["event"] == "step"}


def test_the_first_share_of_the_budget_takes_a_quarter_of_the_windows(
    tmp_path: Path, token_dir: Path
) -> None:
    # 8 steps of 4 windows of 16 targets; the first half of them at one window a step
    trainer = _trainer(token_dir, tmp_path, "causal", batch_warmup=0.5)
    trainer.run()
    tokens = _tokens(tmp_path)
    per_step = [tokens[s] - tokens.get(s - 1, 0) for s in range(1, 9)]
    assert per_step == [16] * 4 + [64] * 4


def test_off_by_default_and_exactly_as_without_it(tmp_path: Path, token_dir: Path) -> None:
    plain = _trainer(token_dir, tmp_path / "plain", "masked")
    assert plain.cfg.batch_warmup == 0.0
    plain.run()
    warm = _trainer(token_dir, tmp_path / "warm", "masked", batch_warmup=0.25)
    warm.run()
    assert _tokens(tmp_path / "plain")[8] == 8 * 4 * 16 * 1  # masked counts every window token
    assert _tokens(tmp_path / "warm")[8] < _tokens(tmp_path / "plain")[8]


def test_a_resumed_run_warms_up_exactly_as_an_uninterrupted_one(
    tmp_path: Path, token_dir: Path
) -> None:
    whole = _trainer(token_dir, tmp_path / "whole", "causal", batch_warmup=0.5)
    whole.run()
    cut = _trainer(token_dir, tmp_path / "cut", "causal", stop_at=2, batch_warmup=0.5)
    cut.run()  # stops inside the warm-up
    _resume_last(token_dir, tmp_path / "cut", "causal", batch_warmup=0.5)
    assert _losses(tmp_path / "whole") == _losses(tmp_path / "cut")
    assert _tokens(tmp_path / "whole") == _tokens(tmp_path / "cut")


def test_the_option_is_checked_recorded_and_shown(tmp_path: Path, token_dir: Path) -> None:
    out = tmp_path / "run"
    ok = train_option(token_dir, out, "--batch-warmup", "1", "0.5", steps=4)
    assert "(batch 4, 1 for the first 50%)" in ok.output
    again = run_cli("train", "--resume", str(out), "--batch-warmup", "0.2")
    assert again.exit_code == 2 and "drop --batch-warmup" in again.output


@pytest.mark.parametrize(("objective", "share"), [("causal", 0.2), ("masked", 0.0)])
def test_a_causal_run_warms_up_by_default(
    tmp_path: Path, token_dir: Path, objective: str, share: float
) -> None:
    out = tmp_path / "run"
    args = ("--objective", objective, "--max-steps", "2", "--out", str(out), *TINY_TRAIN)
    ok = run_cli("train", str(token_dir), *args)
    assert ok.exit_code == 0, ok.output
    assert json.loads((out / "run.json").read_text())["train"]["batch_warmup"] == share
    assert ("for the first 20%" in ok.output) == bool(share)
