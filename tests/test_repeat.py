"""Dropout that rises as a causal model's train split repeats (tinylm/train/repeat.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import train_option
from test_training import _losses, _resume_last, _trainer

from tinylm.model import Attention
from tinylm.train.repeat import QUANTUM, repeat_dropout


def test_the_ramp_holds_then_rises_in_quanta_and_stops_at_full() -> None:
    assert repeat_dropout(3.9, 0.0, 0.2, 4.0, 12.0) == 0.0
    assert repeat_dropout(8.0, 0.0, 0.2, 4.0, 12.0) == pytest.approx(0.1)
    assert repeat_dropout(50.0, 0.0, 0.2, 4.0, 12.0) == pytest.approx(0.2)
    for e in (4.5, 5.1, 7.3, 9.9, 11.2):
        rate = repeat_dropout(e, 0.0, 0.2, 4.0, 12.0)
        assert abs(rate / QUANTUM - round(rate / QUANTUM)) < 1e-9
    # never below the model's own rate, and a full rate at or below it changes nothing
    assert repeat_dropout(4.2, 0.1, 0.3, 4.0, 12.0) == 0.1
    assert repeat_dropout(20.0, 0.3, 0.2, 4.0, 12.0) == 0.3


def _rates(model) -> set[float]:  # noqa: ANN001
    drops = {m.p for m in model.modules() if m.__class__.__name__ == "Dropout"}
    return drops | {m.dropout for m in model.modules() if isinstance(m, Attention)}


@pytest.mark.parametrize("objective", ["causal", "masked"])
def test_only_a_causal_model_gets_the_rate_once_the_data_repeats(
    tmp_path: Path, token_dir: Path, objective: str
) -> None:
    trainer = _trainer(token_dir, tmp_path, objective, repeat_dropout=0.3)
    trainer.progress.tokens = 20 * len(trainer.train_data)  # past the ramp's end
    trainer.train_step(1.0)
    assert _rates(trainer.model) == ({0.3} if objective == "causal" else {0.1})


def test_a_resumed_run_ramps_exactly_as_an_uninterrupted_one(
    tmp_path: Path, token_dir: Path
) -> None:
    def start(out: Path, stop_at: int | None = None):  # noqa: ANN202
        t = _trainer(token_dir, out, "causal", stop_at=stop_at, repeat_dropout=0.5)
        t.progress.tokens = 7 * len(t.train_data)  # mid-ramp: the rate moves during the run
        return t

    whole = start(tmp_path / "whole")
    whole.run()
    cut = start(tmp_path / "cut", stop_at=4)
    cut.run()
    again = _resume_last(token_dir, tmp_path / "cut", "causal", repeat_dropout=0.5)
    assert _losses(tmp_path / "whole") == _losses(tmp_path / "cut")
    assert _rates(whole.model) == _rates(again.model) and max(_rates(whole.model)) > 0.1


def test_the_option_is_checked_and_recorded(tmp_path: Path, token_dir: Path) -> None:
    out = tmp_path / "run"
    ok = train_option(token_dir, out, "--repeat-dropout", "1.5", "0.25", steps=2)
    assert "dropout 0, rising to 0.25 as the data repeats (6 to 14 epochs)" in ok.output
    steps = [e for e in _events(out) if e["event"] == "step"]
    assert steps and all(e["dropout"] == 0.0 for e in steps)  # 2 steps: far from 6 epochs


def _events(out: Path) -> list[dict]:
    lines = (out / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_before_the_ramp_starts_training_is_exactly_as_without_it(
    tmp_path: Path, token_dir: Path
) -> None:
    # a short run never reaches REPEAT_EPOCHS[0]: the default changes nothing there
    on = _trainer(token_dir, tmp_path / "on", "causal", repeat_dropout=0.2)
    off = _trainer(token_dir, tmp_path / "off", "causal", repeat_dropout=0.0)
    assert on.cfg.repeat_dropout != off.cfg.repeat_dropout
    for trainer in (on, off):
        torch.manual_seed(1)  # the model's own dropout (0.1) draws from it
        trainer.run()
    assert _losses(tmp_path / "on") == _losses(tmp_path / "off")
