"""`tinylm plot`: loss and val curves of runs in the terminal, as JSON and as an image."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from conftest import run_cli

from tinylm.curves import read_curves

ANSI = re.compile(r"\x1b\[")


def write_run(root: Path, steps: int, evals: tuple[int, ...] = (), tokens: int = 64) -> Path:
    """A run directory with a train loss at each of `steps` steps and a val loss at `evals`."""
    root.mkdir(parents=True)
    events = []
    for n in range(1, steps + 1):
        events.append({"event": "step", "step": n, "loss": 5 / n, "tokens": tokens * n})
        events[-1]["elapsed"] = n * 2.0
        if n in evals:
            events.append(
                {
                    "event": "eval",
                    "step": n,
                    "tokens": tokens * n,
                    "elapsed": n * 2.0,
                    "val_loss": 6 / n,
                }
            )
    text = "".join(json.dumps(e) + "\n" for e in events)
    (root / "metrics.jsonl").write_text(text, encoding="utf-8")
    return root


def chart(r) -> list[str]:  # noqa: ANN001
    assert r.exit_code == 0, r.output
    assert not ANSI.search(r.stdout)  # not a terminal: no colour codes
    return r.stdout.splitlines()


def test_two_families_overlaid_with_a_legend(runs: dict[str, Path]) -> None:
    lines = chart(run_cli("plot", str(runs["causal"]), str(runs["masked"])))
    assert lines[0].strip() == "loss (nats per token)"
    assert lines[-3].strip() == "step"  # the x axis' label, above the legend
    assert lines[-2] == "causal (causal): ⠒⠒ train loss  ● val loss"
    assert lines[-1] == "masked (masked): ▀▀ train loss  ■ val loss"
    canvas = "\n".join(lines[1:-4])
    assert canvas.count("●") == 2 and canvas.count("■") == 2  # two evaluations each
    assert all(len(line) <= 80 for line in lines)  # no terminal: 80 columns


def test_width_follows_the_terminal(runs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    lines = chart(run_cli("plot", str(runs["diffusion"])))
    frame = next(line for line in lines if "┌" in line)
    assert len(frame.rstrip()) == 120


@pytest.mark.parametrize(
    ("x_axis", "label", "last_tick"),
    [
        ("steps", "step", "30"),
        ("tokens", "tokens (millions)", "3.0"),
        ("seconds", "minutes of training", "1.0"),
    ],
)
def test_x_axis_and_its_unit(tmp_path: Path, x_axis: str, label: str, last_tick: str) -> None:
    """Tokens in millions and seconds in minutes keep the tick labels short."""
    run = write_run(tmp_path / "big", 30, (10, 20, 30), tokens=100_000)
    lines = chart(run_cli("plot", str(run), "--x", x_axis))
    assert lines[-2].strip() == label
    ticks = lines[-3].split()
    assert float(ticks[-1]) == float(last_tick)


def test_log_y_axis(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", 50, (25, 50))
    linear = chart(run_cli("plot", str(run)))
    log = chart(run_cli("plot", str(run), "--log-y"))
    assert log != linear and log[-1] == linear[-1]


def test_a_run_without_evaluation_yet(tmp_path: Path) -> None:
    run = write_run(tmp_path / "young", 5)
    lines = chart(run_cli("plot", str(run)))
    assert lines[-1] == "young: ⠒⠒ train loss  (no evaluation yet)"  # no run.json: no objective


def test_an_empty_run_beside_others_is_noted(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "metrics.jsonl").write_text("")
    run = write_run(tmp_path / "r", 5, (5,))
    r = run_cli("plot", str(run), str(empty))
    assert chart(r)[-1].startswith("empty: ")
    assert r.stderr == f"Note: {empty} has logged no step yet.\n"


def test_nothing_to_plot_is_an_error_but_empty_json_is_not(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "metrics.jsonl").write_text('{"event": "step", "st')  # torn first line
    r = run_cli("plot", str(empty))
    assert r.exit_code == 1 and r.stdout == ""
    assert r.stderr == f"Error: nothing to plot yet: {empty} logged no step.\n"
    r = run_cli("plot", str(empty), "--json")
    assert r.exit_code == 0 and json.loads(r.stdout) == {
        "runs": [{"run": "empty", "train": [], "val": []}]
    }


def test_json_is_the_series(runs: dict[str, Path]) -> None:
    r = run_cli("plot", str(runs["causal"]), str(runs["masked"]), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == {
        "runs": [read_curves(runs["causal"]), read_curves(runs["masked"])]
    }


def test_same_names_are_told_apart_by_path(tmp_path: Path) -> None:
    a, b = write_run(tmp_path / "a" / "run", 3), write_run(tmp_path / "b" / "run", 3)
    lines = chart(run_cli("plot", str(a), str(b)))
    assert lines[-2].startswith(f"{a}: ") and lines[-1].startswith(f"{b}: ")


@pytest.mark.parametrize(
    ("make", "code", "needle"),
    [
        (lambda t: t / "missing", 2, "does not exist"),
        (lambda t: t, 1, "has no metrics.jsonl"),
        (lambda t: t / "x.txt", 1, "has no metrics.jsonl"),
    ],
    ids=["missing", "not a run", "a file"],
)
def test_bad_runs(tmp_path: Path, make, code: int, needle: str) -> None:  # noqa: ANN001
    (tmp_path / "x.txt").write_text("hi")
    r = run_cli("plot", str(make(tmp_path)))
    assert r.exit_code == code and r.stdout == ""
    assert r.stderr.startswith("Error: ") and needle in r.stderr and r.stderr.count("\n") == 1


def test_png_is_written(runs: dict[str, Path], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "curves.png"
    r = run_cli(
        "plot", str(runs["causal"]), str(runs["masked"]), "--png", str(out), "--x", "tokens"
    )
    assert r.exit_code == 0, r.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]  # no temporary file left
    assert r.stderr == f"Wrote {out}\n"
    assert r.stdout.splitlines()[-3].strip() == "tokens"  # the terminal chart still shows


@pytest.mark.parametrize(
    ("name", "code", "needle"),
    [("nodir/c.png", 2, "does not exist"), ("c.xyz", 2, "cannot write '.xyz'")],
)
def test_bad_png(runs: dict[str, Path], tmp_path: Path, name: str, code: int, needle: str) -> None:
    pytest.importorskip("matplotlib")
    r = run_cli("plot", str(runs["causal"]), "--png", str(tmp_path / name))
    assert r.exit_code == code and needle in r.stderr and r.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_png_without_matplotlib_says_what_to_install(
    runs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails
    r = run_cli("plot", str(runs["causal"]), "--png", str(tmp_path / "c.png"))
    assert r.exit_code == 1 and r.stdout == ""
    assert r.stderr == "Error: --png needs matplotlib: pip install matplotlib (or tinylm[plot]).\n"
