"""`tinylm plot`: the training loss and val curves of runs, in the terminal or as an image."""

from __future__ import annotations

import io
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from tinylm.atomic import write_atomic
from tinylm.errors import TinylmError

X_AXES = {"steps": "step", "tokens": "tokens", "seconds": "seconds"}  # option -> point field
# (divisor, axis label) from the largest; the first whose divisor the data reaches is used
X_UNITS = {
    "steps": ((1, "step"),),
    "tokens": ((1e6, "tokens (millions)"), (1e3, "tokens (thousands)"), (1, "tokens")),
    "seconds": (
        (3600, "hours of training"),
        (60, "minutes of training"),
        (1, "seconds of training"),
    ),
}
Y_LABEL = "loss (nats per token)"
# per run: the train line's marker, the val points' symbol, a color; piped output has no color,
# so the markers alone tell six runs apart
STYLES = (
    ("braille", "●", "blue"),
    ("hd", "■", "red"),
    ("fhd", "▲", "green"),
    ("braille", "◆", "magenta"),
    ("hd", "○", "cyan"),
    ("fhd", "□", "yellow"),
)
HEIGHT = 20  # terminal rows of the chart, legend lines apart
MIN_WIDTH = 40
MAX_DOTS = 60  # the image marks each evaluation with a dot up to this many


@dataclass
class Series:
    """One run's curves on the chosen x axis, in its units."""

    label: str
    train: tuple[list[float], list[float]]
    val: tuple[list[float], list[float]]


@click.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--x",
    "x_axis",
    type=click.Choice(list(X_AXES)),
    default="steps",
    show_default=True,
    help="What the x axis counts: optimizer steps, training tokens, or seconds of training.",
)
@click.option("--log-y", is_flag=True, help="A logarithmic loss axis.")
@click.option(
    "--png", type=click.Path(path_type=Path), help="Also write the chart as an image (matplotlib)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the series as JSON instead.")
def plot(runs: tuple[Path, ...], x_axis: str, log_y: bool, png: Path | None, as_json: bool) -> None:
    """Show the training loss and validation loss of one or more runs.

    The training loss is a line, the validation loss (measured every --eval-every steps and at
    the end) a point per evaluation; several runs share the axes, one color and symbol each.
    A run still training shows what it has logged so far. All are nats per token, but a masked
    model's loss is over its hidden tokens and a diffusion model's is a bound (the negative
    ELBO): curves compare within a family, not across.

    \b
    Examples:
      tinylm plot runs/gpt
      tinylm plot runs/gpt runs/bert --x tokens
      tinylm plot runs/gpt runs/bert --png curves.png
      tinylm plot runs/gpt --json
    """
    from tinylm.cli.attention import _check_png
    from tinylm.curves import read_config, read_curves

    if png is not None:
        _check_png(png)
    curves = [read_curves(run) for run in runs]
    empty = [str(run) for run, c in zip(runs, curves, strict=True) if not c["train"] + c["val"]]
    drawing = png is not None or not as_json
    if drawing and len(empty) == len(runs):  # refused before anything is printed
        raise TinylmError(f"nothing to plot yet: {', '.join(empty)} logged no step.")
    if as_json:
        click.echo(json.dumps({"runs": curves}))
    if not drawing:
        return
    for name in empty:
        click.echo(f"Note: {name} has logged no step yet.", err=True)
    objectives = [(read_config(run)["model"] or {}).get("objective") for run in runs]
    series, x_label = _series(curves, _labels(runs, curves, objectives), x_axis)
    if png is not None:
        _write_png(png, series, x_label, log_y)
        click.echo(f"Wrote {png}", err=True)
    if not as_json:
        _show(series, x_label, log_y, color=sys.stdout.isatty())


def _labels(runs: tuple[Path, ...], curves: list[dict], objectives: list[str | None]) -> list[str]:
    """Each run's legend label: its directory name (the path as given when two names are the
    same) and its objective."""
    names = [c["run"] for c in curves]
    if len(set(names)) < len(names):
        names = [str(run) for run in runs]
    return [f"{n} ({o})" if o else n for n, o in zip(names, objectives, strict=True)]


def _series(curves: list[dict], labels: list[str], x_axis: str) -> tuple[list[Series], str]:
    """The runs' points on the x axis asked for, scaled to a unit that keeps tick labels short."""
    field = X_AXES[x_axis]
    top = max(p[field] for c in curves for p in c["train"] + c["val"])
    divisor, x_label = next((d, u) for d, u in X_UNITS[x_axis] if top >= d or d == 1)
    series = []
    for label, c in zip(labels, curves, strict=True):
        train = ([p[field] / divisor for p in c["train"]], [p["loss"] for p in c["train"]])
        val = ([p[field] / divisor for p in c["val"]], [p["val_loss"] for p in c["val"]])
        series.append(Series(label, train, val))
    return series, x_label


def _show(series: list[Series], x_label: str, log_y: bool, color: bool) -> None:
    """The chart as wide as the terminal (80 columns when it is not one), legend below."""
    import plotext

    fig = plotext.figure
    fig.clear()  # plotext keeps one global figure
    plotext.terminal.limit(False, False)  # the size is ours to choose, even in a pipe
    fig.theme("simple" if color else "colorless")
    for s, (line, symbol, hue) in zip(series, _styles(len(series)), strict=True):
        pixel = plotext.pixel(foreground=hue)
        if s.train[0]:
            fig.draw(fig.signal(*s.train, marker=plotext.marker(line, pixel)).lines())
        if s.val[0]:
            fig.draw(fig.signal(*s.val, marker=plotext.marker(symbol, pixel)))
    if log_y:
        fig.ruler("y").scale("log")
    fig.title(Y_LABEL)
    fig.label(x_label)
    width = max(MIN_WIDTH, shutil.get_terminal_size((80, 24)).columns)
    fig.plot_size(width, HEIGHT)
    rows = fig.build().string(colorless=not color).rstrip("\n").splitlines()
    click.echo("\n".join(rows if color else (row.rstrip() for row in rows)))  # plotext pads
    for s, (line, symbol, hue) in zip(series, _styles(len(series)), strict=True):
        text = f"{s.label}: {_glyph(line)} train loss"
        text += f"  {symbol} val loss" if s.val[0] else "  (no evaluation yet)"
        click.echo(
            plotext.colorize(text, plotext.pixel(foreground=hue)).string() if color else text
        )


def _styles(n: int) -> list[tuple[str, str, str]]:
    return [STYLES[i % len(STYLES)] for i in range(n)]


def _glyph(marker: str) -> str:
    """A character that looks like a line drawn with plotext's `marker` code."""
    return {"braille": "⠒⠒", "hd": "▀▀", "fhd": "🬂🬂"}[marker]


def _write_png(path: Path, series: list[Series], x_label: str, log_y: bool) -> None:
    """Render with matplotlib's object API (no pyplot: no global state, no GUI backend)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.5))
    ax = fig.subplots()
    for i, s in enumerate(series):
        hue = f"C{i % 10}"
        label = s.label.replace("$", r"\$")  # a "$" in a run's name must not start a formula
        if s.train[0]:
            ax.plot(*s.train, color=hue, linewidth=1.2, alpha=0.75, label=f"{label} train")
        if s.val[0]:
            dots = "o" if len(s.val[0]) <= MAX_DOTS else None  # hundreds of dots hide the line
            ax.plot(*s.val, color=hue, marker=dots, ms=4, ls="--", label=f"{label} val")
    if log_y:
        from matplotlib.ticker import FuncFormatter

        ax.set_yscale("log")
        # plain 0.3 and 4 (not 3 x 10^-1); of the minor ticks only 2, 3 and 5 of each decade
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" * (f"{v:e}"[0] in "235")))
    ax.set_xlabel(x_label)
    ax.set_ylabel(Y_LABEL)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format=path.suffix.lstrip(".").lower(), dpi=120)  # checked in _check_png
    write_atomic(path, buf.getvalue())  # an interrupted run never leaves half an image
