"""tinylm.curves: a run's loss and val series and summary, read while training may be appending."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tinylm.curves import list_runs, read_curves, run_summary
from tinylm.errors import TinylmError, UsageError


def step(n: int, loss: float, **extra: object) -> dict:
    return {"event": "step", "step": n, "loss": loss, "tokens": 64 * n, "elapsed": n / 10, **extra}


def evaluation(n: int, val: float) -> dict:
    return {"event": "eval", "step": n, "tokens": 64 * n, "elapsed": n / 10, "val_loss": val}


def write_run(root: Path, *events: dict, tail: str = "") -> Path:
    """A run directory whose metrics.jsonl holds `events`, one a line, then `tail` as is."""
    root.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(e) + "\n" for e in events)
    (root / "metrics.jsonl").write_text(lines + tail, encoding="utf-8")
    return root


def test_series_of_a_run(tmp_path: Path) -> None:
    run = write_run(
        tmp_path / "gpt",
        step(1, 3.5, lr_scale=0.1),
        evaluation(2, 3.2),
        {"event": "save", "step": 2, "checkpoint": "best"},
        step(3, 2.9),
        evaluation(4, 2.8),
    )
    assert read_curves(run) == {
        "run": "gpt",
        "train": [
            {"step": 1, "tokens": 64, "seconds": 0.1, "loss": 3.5},
            {"step": 3, "tokens": 192, "seconds": 0.3, "loss": 2.9},
        ],
        "val": [
            {"step": 2, "tokens": 128, "seconds": 0.2, "val_loss": 3.2},
            {"step": 4, "tokens": 256, "seconds": 0.4, "val_loss": 2.8},
        ],
    }


def test_a_torn_last_line_and_unknown_events_are_skipped(tmp_path: Path) -> None:
    """Training appends while we read: half a line at the end is not an error."""
    torn = json.dumps(step(3, 2.0))[:25]
    run = write_run(tmp_path / "r", step(1, 3.0), {"event": "future", "step": 2}, tail=torn)
    curves = read_curves(run)
    assert [p["step"] for p in curves["train"]] == [1]
    assert curves["val"] == []


def test_bad_lines_and_values_are_skipped(tmp_path: Path) -> None:
    run = write_run(
        tmp_path / "r",
        step(1, 3.0),
        step(2, float("nan")),  # json.dumps writes NaN, which json.loads reads back
        {"event": "step", "step": 3, "loss": "low", "tokens": 1, "elapsed": 1},
        {"event": "step", "step": True, "loss": 1.0, "tokens": 1, "elapsed": 1},
        {"event": "eval", "step": 4},
        tail='[1, 2]\n\xff\n{"event": "step"}\n',
    )
    assert [p["step"] for p in read_curves(run)["train"]] == [1]


def test_a_resumed_run_keeps_the_later_record_of_a_step(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", step(1, 3.0), step(2, 2.5), step(2, 2.4), step(3, 2.0))
    assert [(p["step"], p["loss"]) for p in read_curves(run)["train"]] == [
        (1, 3.0),
        (2, 2.4),
        (3, 2.0),
    ]


def test_an_empty_metrics_file_has_empty_series(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r")
    assert read_curves(run) == {"run": "r", "train": [], "val": []}
    summary = run_summary(run)
    assert summary["step"] is None and summary["final_val"] is None


def test_missing_run_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        read_curves(tmp_path / "nope")


@pytest.mark.parametrize("kind", ["empty dir", "file"])
def test_no_metrics_is_one_clear_error(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "x"
    target.mkdir() if kind == "empty dir" else target.write_text("hi")
    with pytest.raises(TinylmError, match="has no metrics.jsonl") as e:
        read_curves(target)
    assert not isinstance(e.value, UsageError)  # the path exists: a problem with the data


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_metrics_is_one_clear_error(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", step(1, 3.0))
    (run / "metrics.jsonl").chmod(0)
    with pytest.raises(TinylmError, match="cannot read .*metrics.jsonl: Permission denied"):
        read_curves(run)


def test_summary_of_hand_written_run(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", step(1, 3.0), evaluation(2, 2.5), evaluation(4, 2.7))
    (run / "best").mkdir()  # no run.json: the checkpoint's config stands in
    (run / "best" / "config.json").write_text(json.dumps({"model": {"objective": "masked"}}))
    s = run_summary(run)
    assert s["objective"] == "masked" and s["train"] is None
    assert (s["step"], s["tokens"], s["seconds"]) == (4, 256, 0.4)
    assert s["final_val"]["val_loss"] == 2.7 and s["best_val"]["val_loss"] == 2.5
    assert "event" not in s["best_val"]


def test_real_runs(runs: dict[str, Path]) -> None:
    """The files `tinylm train` writes give every family's series and summary."""
    for family, run in runs.items():
        curves = read_curves(run)
        assert curves["run"] == run.name
        assert curves["train"][0]["step"] == 1 and curves["train"][0]["loss"] > 0
        assert [p["step"] for p in curves["val"]] == [2, 3]  # --eval-every 2, and at the end
        seconds = [p["seconds"] for p in curves["val"]]
        assert seconds == sorted(seconds)
        s = run_summary(run)
        assert s["objective"] == family and s["model"]["n_layer"] == 1
        assert s["train"]["max_steps"] == 3 and s["step"] == 3
        assert "event" not in s["final_val"] and "val_loss" in s["best_val"]
        assert s["final_val"]["val_loss"] == curves["val"][-1]["val_loss"]


def test_list_runs(tmp_path: Path, runs: dict[str, Path]) -> None:
    assert list_runs(runs["causal"].parent) == sorted(runs.values())
    (tmp_path / "not-a-run").mkdir()
    write_run(tmp_path / "b")
    assert list_runs(tmp_path) == [tmp_path / "b"]
    assert list_runs(tmp_path / "missing") == []
