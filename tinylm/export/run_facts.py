"""What a model card says about a run, read from the files `tinylm train` writes: the training
data's sources (meta.json), the budget, and the figures its last evaluation before the checkpoint
recorded. Every file is optional: a checkpoint copied on its own still exports."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from tinylm.curves import read_events
from tinylm.errors import TinylmError

BUNDLED = ("shakespeare.txt", 1_033_527)  # the bundled corpus' name and size (data/README.md)


@dataclass
class RunFacts:
    """The run a checkpoint came from, as far as its files tell."""

    name: str
    checkpoint: str  # "best", "last", or the checkpoint directory's own name
    step: int | None = None
    tokens: int | None = None
    seconds: float | None = None
    evaluation: dict = field(default_factory=dict)  # the eval event of the checkpoint's step
    sources: list[dict] = field(default_factory=list)  # {"path", "bytes"} per input file
    documents: int | None = None
    val_fraction: float | None = None

    @property
    def bundled(self) -> bool:
        """Whether the model learned from tinylm's bundled Shakespeare alone."""
        found = [(PurePath(str(s.get("path"))).name, s.get("bytes")) for s in self.sources]
        return found == [BUNDLED]  # meta.json records the path as it was given


def _json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _number(value: object) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if ok else None


def _meta(run: Path) -> dict:
    """The token directory's meta.json: where run.json says the data is, or the run's data/."""
    data = _json(run / "run.json").get("data")
    for root in ([Path(data)] if isinstance(data, str) else []) + [run / "data"]:
        meta = _json(root / "meta.json")
        if meta:
            return meta
    return {}


def _evaluation(run: Path, step: int | None) -> dict:
    """The last eval event at `step` in metrics.jsonl (without its "event" key)."""
    if step is None or not (run / "metrics.jsonl").is_file():
        return {}
    found = {}
    try:
        events = read_events(run)
    except TinylmError:  # unreadable: the card goes without figures
        return {}
    for event in events:
        if event.get("event") == "eval" and event.get("step") == step:
            found = {k: v for k, v in event.items() if k != "event" and _number(v) is not None}
    return found


def read_run_facts(checkpoint: Path) -> RunFacts:
    """The facts of the run that holds `checkpoint` (its best/ or last/), or of the checkpoint
    directory alone."""
    state = _json(checkpoint / "trainer_state.json")
    step = state.get("step") if isinstance(state.get("step"), int) else None
    in_run = checkpoint.name in ("best", "last") and (checkpoint.parent / "run.json").is_file()
    run = checkpoint.parent if in_run else checkpoint
    name = run.resolve().name
    facts = RunFacts(
        name=name,
        checkpoint=checkpoint.name if in_run else "checkpoint",
        step=step,
        tokens=state.get("tokens") if isinstance(state.get("tokens"), int) else None,
        seconds=_number(state.get("elapsed")),
    )
    if not in_run:
        return facts
    facts.evaluation = _evaluation(run, step)
    meta = _meta(run)
    sources = meta.get("sources")
    facts.sources = [s for s in sources if isinstance(s, dict)] if isinstance(sources, list) else []
    facts.documents = meta.get("documents") if isinstance(meta.get("documents"), int) else None
    facts.val_fraction = _number(meta.get("val_fraction"))
    return facts
