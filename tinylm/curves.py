"""A run's training curves and summary, read from the files `tinylm train` writes (stdlib only).

metrics.jsonl is appended while training runs, so a reader may meet a half-written last line;
such lines, and events it does not know, are skipped rather than refused.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from tinylm.errors import TinylmError, UsageError

# metrics.jsonl event -> (series name, the event's value field, the series' value field)
SERIES = {"step": ("train", "loss", "loss"), "eval": ("val", "val_loss", "val_loss")}


def _number(value: object) -> float | None:
    """`value` as a finite float, or None for anything else (a bool, a string, nan)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _point(event: dict, field: str, name: str) -> dict | None:
    """One point of a series from a step or eval event; None when a field is missing or bad."""
    step, tokens = _number(event.get("step")), _number(event.get("tokens"))
    seconds, value = _number(event.get("elapsed")), _number(event.get(field))
    if None in (step, tokens, seconds, value):
        return None
    return {"step": int(step), "tokens": int(tokens), "seconds": seconds, name: value}


def read_events(run: Path) -> list[dict]:
    """The JSON objects of RUN/metrics.jsonl in order; unparsable lines (a torn last line
    while training appends) are skipped."""
    if not run.exists():  # a mistyped argument, not a broken file
        raise UsageError(f"{run} does not exist; give a run directory.")
    path = run / "metrics.jsonl"
    if not run.is_dir() or not path.is_file():
        raise TinylmError(
            f"{run} has no metrics.jsonl: it is not a tinylm run directory, "
            "or its training has not logged a step yet."
        )
    try:
        with open(path, "rb") as f:
            lines = f.read().split(b"\n")
    except OSError as e:
        raise TinylmError(f"cannot read {path}: {e.strerror or e}.") from e
    events = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:  # torn, empty, or not UTF-8
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def _by_step(events: list[dict], kind: str) -> dict[int, dict]:
    """The `kind` events with a numeric step, one per step: a resumed run logs again the steps
    past its checkpoint, and the later record wins."""
    found = {}
    for event in events:
        step = _number(event.get("step"))
        if event.get("event") == kind and step is not None:
            found[int(step)] = event
    return dict(sorted(found.items()))


def read_curves(run: Path) -> dict:
    """{"run": name, "train": [{step, tokens, seconds, loss}], "val": [{step, tokens, seconds,
    val_loss}]} of a run directory, each series sorted by step with one point per step."""
    events = read_events(run)
    curves: dict = {"run": run_name(run)}
    for kind, (name, field, key) in SERIES.items():  # save events and unknown ones are skipped
        points = (_point(e, field, key) for e in _by_step(events, kind).values())
        curves[name] = [p for p in points if p is not None]
    return curves


def run_name(run: Path) -> str:
    """The run directory's name ("." and ".." resolved to the real one)."""
    return run.name if run.name not in ("", ".", "..") else run.resolve().name


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_config(run: Path) -> dict:
    """{"model": ..., "train": ...} as run.json records them; the model config of the run's
    checkpoint when run.json is missing or unreadable; None for what neither has."""
    info = _read_json(run / "run.json") or {}
    model, train = info.get("model"), info.get("train")
    for which in ("best", "last"):
        if isinstance(model, dict):
            break
        model = (_read_json(run / which / "config.json") or {}).get("model")
    return {
        "model": model if isinstance(model, dict) else None,
        "train": train if isinstance(train, dict) else None,
    }


def _figures(event: dict | None) -> dict | None:
    return None if event is None else {k: v for k, v in event.items() if k != "event"}


def run_summary(run: Path) -> dict:
    """A run's figures for a table: its name, objective, config ("model", "train"), where it
    stands ("step", "tokens", "seconds") and its final and best evaluation events, without
    their "event" key ("final_val", "best_val": None before the first evaluation)."""
    events = read_events(run)
    config = read_config(run)
    evals = [e for e in _by_step(events, "eval").values() if _number(e.get("val_loss")) is not None]
    latest = {**_by_step(events, "step"), **_by_step(events, "eval")}
    last = latest[max(latest)] if latest else {}
    return {
        "run": run_name(run),
        "objective": (config["model"] or {}).get("objective"),
        **config,
        "step": last.get("step"),
        "tokens": last.get("tokens"),
        "seconds": last.get("elapsed"),
        "final_val": _figures(evals[-1] if evals else None),
        "best_val": _figures(min(evals, key=lambda e: e["val_loss"], default=None)),
    }


def list_runs(root: Path) -> list[Path]:
    """The run directories directly under `root` (those with a metrics.jsonl or run.json),
    sorted by name; none when `root` is not a directory."""
    try:
        children = sorted(root.iterdir())
    except OSError:
        return []
    return [
        p
        for p in children
        if p.is_dir() and ((p / "metrics.jsonl").is_file() or (p / "run.json").is_file())
    ]
