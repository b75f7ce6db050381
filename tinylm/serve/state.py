"""What every route reads: the loaded models, the worker, the caps, the runs, the key."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import Request

from tinylm.curves import list_runs
from tinylm.serve.limits import Limits
from tinylm.serve.registry import Registry
from tinylm.serve.worker import Worker


@dataclass(frozen=True)
class RunIndex:
    """The runs the Runs view shows: every run under `root` (re-read on each request, so a run
    started after the server shows up) and the runs of the served models, by name."""

    root: Path | None
    served: tuple[Path, ...] = ()

    def paths(self) -> dict[str, Path]:
        """name -> run directory; a request names one of these keys, never a path."""
        found = {p.name: p for p in (list_runs(self.root) if self.root else [])}
        for run in self.served:
            if (run / "metrics.jsonl").is_file() or (run / "run.json").is_file():
                found.setdefault(run.resolve().name, run)
        return dict(sorted(found.items()))


@dataclass
class ServerState:
    """Held by the app (app.state.tinylm) for as long as it serves."""

    registry: Registry
    worker: Worker
    limits: Limits
    runs: RunIndex
    api_key: str | None = None


def state(request: Request) -> ServerState:
    """The server's state, from a request."""
    return request.app.state.tinylm
