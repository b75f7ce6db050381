"""The Runs view's data: every run's config and figures, and every run's loss and val curves,
read from the files `tinylm train` appends while it runs (the page polls; an unchanged set of
files answers 304 Not Modified)."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from tinylm.curves import read_curves, run_summary
from tinylm.errors import TinylmError
from tinylm.serve.state import state

router = APIRouter(prefix="/api")


@router.get("/status")
async def status(request: Request) -> dict:
    """The worker's queue and counters, and the caps."""
    st = state(request)
    return {"models": len(st.registry.models), "worker": st.worker.status(), **vars(st.limits)}


@router.get("/runs")
def runs(request: Request) -> dict:
    """Each run's config and figures, and the ids of its loaded models."""
    st = state(request)
    out = []
    for name, path in st.runs.paths().items():
        try:
            summary = run_summary(path)
        except TinylmError as e:  # a run with no metrics yet
            summary = {"error": str(e)}
        where = path.resolve()
        models = [m.id for m in st.registry.models.values() if m.run.resolve() == where]
        out.append({**summary, "run": name, "models": models})
    return {"runs": out}


def _fingerprint(paths: dict) -> str:
    """Changes whenever a run appears or a metrics.jsonl grows or is rewritten."""
    h = hashlib.sha256()
    for name, path in paths.items():
        try:
            st = (path / "metrics.jsonl").stat()
            h.update(f"{name}\0{st.st_mtime_ns}\0{st.st_size}\n".encode())
        except OSError:
            h.update(f"{name}\0-\n".encode())
    return f'"{h.hexdigest()[:32]}"'


@router.get("/curves", response_model=None)
def curves(request: Request) -> dict | Response:
    """Every run's loss and val series; 304 when no run changed since the ETag sent."""
    paths = state(request).runs.paths()
    tag = _fingerprint(paths)
    if request.headers.get("if-none-match") == tag:
        return Response(status_code=304, headers={"ETag": tag})
    series = []
    for path in paths.values():
        try:
            series.append(read_curves(path))
        except TinylmError:
            continue  # no metrics.jsonl yet: the run shows once training logs a step
    return JSONResponse({"runs": series}, headers={"ETag": tag})
