"""The FastAPI application: the routes behind the API key, the page's files, the guard, the
errors, and the worker started and stopped with the app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from tinylm import __version__
from tinylm.serve import api, attention, fill, runs
from tinylm.serve.auth import require_key
from tinylm.serve.errors import install_error_handlers
from tinylm.serve.guard import Guard
from tinylm.serve.limits import Limits
from tinylm.serve.registry import Registry
from tinylm.serve.state import RunIndex, ServerState
from tinylm.serve.worker import Worker

STATIC = Path(__file__).parent / "static"


def create_app(
    registry: Registry,
    limits: Limits | None = None,
    api_key: str | None = None,
    runs_root: Path | None = None,
    hosts: frozenset[str] | None = None,
) -> FastAPI:
    """The server for `registry`'s models. `hosts`: the Host names it answers (None: any);
    `runs_root`: where the Runs view looks for runs, besides the served models' own."""
    limits = limits or Limits()
    worker = Worker(limits.max_queue, limits.fill_batch)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker.start()
        try:
            yield
        finally:
            worker.stop()

    # no /docs or /redoc: they load their scripts from a CDN; no CORS middleware: other sites'
    # pages get no access
    app = FastAPI(
        title="tinylm",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    served_runs = tuple(m.run for m in registry.models.values())
    app.state.tinylm = ServerState(
        registry, worker, limits, RunIndex(runs_root, served_runs), api_key
    )
    install_error_handlers(app)
    for module in (api, fill, attention, runs):
        app.include_router(module.router, dependencies=[Depends(require_key)])
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.add_middleware(Guard, hosts=hosts)
    return app
