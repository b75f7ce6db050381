"""`tinylm serve`: an OpenAI-compatible API and a web page over trained models."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tinylm.cli.options import checkpoint_option, device_option, in_bounds
from tinylm.errors import TinylmError, UsageError
from tinylm.serve.limits import LIMIT_BOUNDS, Limits

if TYPE_CHECKING:
    from tinylm.serve.registry import Registry

KEY_VARIABLE = "TINYLM_API_KEY"


def _limit_option(name: str, help: str) -> Callable:
    """An option whose default and range Limits owns."""
    field = name.removeprefix("--").replace("-", "_")
    kind = in_bounds(LIMIT_BOUNDS[field], integer=True)
    return click.option(
        name, type=kind, default=getattr(Limits, field), show_default=True, help=help
    )


@click.command()
@click.argument("runs", nargs=-1, type=click.Path(path_type=Path), metavar="[RUN]...")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; any but a loopback one exposes the server to the "
    "network (a warning says so).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port to listen on (0: a free one, shown).",
)
@click.option(
    "--api-key",
    envvar=KEY_VARIABLE,
    show_envvar=True,
    help="Require 'Authorization: Bearer KEY' on the API (prefer the environment "
    "variable: a command line shows in ps).",
)
@click.option(
    "--runs-dir",
    type=click.Path(path_type=Path),
    default=Path("runs"),
    show_default=True,
    help="Where the Runs view finds runs (and, with no RUN, the models to serve).",
)
@_limit_option("--max-queue", "Requests waiting or running at once; past it a 503 at once.")
@_limit_option("--max-tokens", "Most new tokens a completion may ask for.")
@_limit_option("--max-n", "Most choices (prompts x n) one completion request may ask for.")
@_limit_option("--max-prompt", "Most characters of one prompt or text.")
@_limit_option("--fill-batch", "Concurrent fill-mask requests run in one forward (1: none).")
@click.option("--access-log", is_flag=True, help="Log every request on stderr.")
@checkpoint_option
@device_option("cpu", "a tiny model answers fastest on the CPU")
def serve(
    runs: tuple[Path, ...],
    host: str,
    port: int,
    api_key: str | None,
    runs_dir: Path,
    max_queue: int,
    max_tokens: int,
    max_n: int,
    max_prompt: int,
    fill_batch: int,
    access_log: bool,
    checkpoint: str,
    device: str,
) -> None:
    """Serve models over an OpenAI-compatible API, with a web page to try them.

    RUN is a run directory (or a checkpoint directory); with none, every run under --runs-dir.
    The page (offline: no CDN) streams completions, fills masks with probability bars, draws
    attention maps, sends one prompt or blank to a causal, a masked and a diffusion model side
    by side, and draws every run's loss curves, live while `tinylm train` writes them.

    \b
    API (the openai client works with base_url="http://127.0.0.1:8000/v1"):
      GET  /v1/models           the loaded models, their family and size
      POST /v1/completions      prompt, max_tokens, temperature, top_p, stop, seed, n, stream
      POST /v1/fill-mask        {"model", "inputs": "To be, or not to [MASK]."}
      POST /v1/attention        {"model", "text", "layer", "head"}

    \b
    Examples:
      tinylm serve                                   # every run under ./runs
      tinylm serve runs/gpt runs/bert --port 8080
      TINYLM_API_KEY=secret tinylm serve --host 0.0.0.0
    """
    from tinylm.serve.app import create_app
    from tinylm.serve.guard import LOOPBACK_NAMES
    from tinylm.serve.server import bind, is_loopback, run_server, url

    if api_key is not None and not api_key.strip():
        raise UsageError(f"--api-key (or {KEY_VARIABLE}) is empty; give a key or unset it.")
    limits = Limits(max_queue, max_tokens, max_n, max_prompt, fill_batch)
    sock = bind(host, port)  # first: a port in use fails before any model loads
    try:
        registry = _load(runs, runs_dir, checkpoint, device)
        loopback = is_loopback(sock)
        if not loopback:
            _warn_exposed(host, sock.getsockname()[1], api_key is not None)
        hosts = LOOPBACK_NAMES | {host} if loopback else None
        app = create_app(registry, limits, api_key, runs_dir, hosts)
        names = ", ".join(f"{m.id} ({m.objective})" for m in registry.models.values())
        click.echo(f"Serving {names} at {url(sock)} (the page; the API under /v1/).", err=True)
        click.echo("Ctrl-C stops.", err=True)
        stopped_by = run_server(app, sock, access_log)
    finally:
        sock.close()
    click.echo(f"Stopped{f' ({stopped_by})' if stopped_by else ''}.", err=True)


def _load(runs: tuple[Path, ...], runs_dir: Path, checkpoint: str, device: str) -> Registry:
    """The models of RUN... (any that fails stops the start), or of every run under runs_dir
    (one that fails, perhaps still training, is skipped with a note)."""
    from tinylm.device import pick_device
    from tinylm.serve.registry import find_runs, load_models

    paths = list(runs) or find_runs(runs_dir)
    if not paths:
        raise TinylmError(
            f"no runs with a checkpoint under {runs_dir}/; train one (tinylm train) "
            "or name one: tinylm serve RUN."
        )
    dev, _ = pick_device(device)
    registry, notes = load_models(paths, checkpoint, dev, skip_broken=not runs)
    for note in notes:
        click.echo(note, err=True)
    if not registry.models:
        raise TinylmError(f"none of the runs under {runs_dir}/ loads; see the notes above.")
    return registry


def _warn_exposed(host: str, port: int, keyed: bool) -> None:
    key = "" if keyed else f"; no API key is set (set {KEY_VARIABLE})"
    click.echo(
        f"Warning: --host {host} exposes the server to the network: anyone who can reach port "
        f"{port} can use its models{key}.",
        err=True,
    )
