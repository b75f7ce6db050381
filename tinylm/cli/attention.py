"""`tinylm attention`: a heatmap of what each token of TEXT attends to, on stdout or as an image."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import click

from tinylm.atomic import write_atomic
from tinylm.cli.options import checkpoint_option, device_option, encode_or_warn, load_model
from tinylm.errors import TinylmError, UsageError

SHADES = " .:-=+*#%@"  # plain-text intensity, light to dark; " " only for a weight of exactly 0
# stops of matplotlib's "Blues": a straight line from white to navy would pass through grey
BLUES = ((247, 251, 255), (198, 219, 239), (107, 174, 214), (33, 113, 181), (8, 48, 107))


@click.command()
@click.argument("run", type=click.Path(path_type=Path))
@click.argument("text")
@click.option("--layer", type=int, help="Show this layer (0-based). Default: the mean of all.")
@click.option("--head", type=int, help="Show this head (0-based). Default: the mean of all.")
@click.option(
    "--max-tokens",
    type=int,
    default=36,
    show_default=True,
    help="Show at most this many tokens of TEXT (two columns each: 36 fit 80 columns).",
)
@click.option(
    "--png", type=click.Path(path_type=Path), help="Also write the map as an image (matplotlib)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the map and tokens as JSON.")
@checkpoint_option
@device_option("cpu")
def attention(
    run: Path,
    text: str,
    layer: int | None,
    head: int | None,
    max_tokens: int,
    png: Path | None,
    as_json: bool,
    checkpoint: str,
    device: str,
) -> None:
    """Show what each token of TEXT can see and what it attends to.

    Rows are the tokens that look (queries), columns the tokens they look at (keys); darker
    means more attention. A causal model fills only the lower triangle, a masked one the grid.

    \b
    Examples:
      tinylm attention runs/gpt "ROMEO: But soft!"
      tinylm attention runs/bert "To be, or not to be" --layer 0 --head 1
      tinylm attention runs/gpt "Speak, speak." --png attention.png --json
    """
    from tinylm.device import pick_device
    from tinylm.infer.attention import attention_maps, select_map, token_labels, visibility

    _check_inputs(text, max_tokens, png)
    dev, _ = pick_device(device)
    ckpt, tok = load_model(run, checkpoint, dev)
    cfg = ckpt.config
    ids = encode_or_warn(tok, text, "text")
    if not ids:
        raise UsageError("TEXT gave no tokens; give some text to look at.")
    keep = min(max_tokens, cfg.block_size)
    if len(ids) > keep:
        why = "--max-tokens" if keep == max_tokens else "the model reads at most that many"
        click.echo(
            f"Warning: TEXT has {len(ids)} tokens; showing the first {keep} ({why}).", err=True
        )
        ids = ids[:keep]
    maps = attention_maps(ckpt.model, ids)  # (n_layer, n_head, T, T)
    try:
        grid = select_map(maps, layer, head)  # (T, T)
    except ValueError as e:  # "layer 5 is out of range: ..." names the valid range
        raise UsageError(f"--{e}") from None
    labels = token_labels(tok, ids)
    what = f"{_which('layer', layer, cfg.n_layer)}, {_which('head', head, cfg.n_head)}"
    if png is not None:
        title = f"{run} · {what} · {cfg.objective}"
        _write_png(png, grid.tolist(), labels, title)
        click.echo(f"Wrote {png}", err=True)
    if as_json:
        rows = [[round(w, 6) for w in row] for row in grid.tolist()]
        pieces = [tok.decode([i], skip_special_tokens=False) for i in ids]
        out = {"run": str(run), "objective": cfg.objective, "layer": layer, "head": head}
        click.echo(json.dumps({**out, "ids": ids, "tokens": pieces, "map": rows}))
        return
    click.echo(visibility(cfg.causal))
    click.echo(f"{what}; rows: tokens looking, columns: tokens looked at")
    _show(grid.tolist(), labels, color=sys.stdout.isatty())


def _check_inputs(text: str, max_tokens: int, png: Path | None) -> None:
    """Refuse what cannot be shown before a checkpoint loads."""
    if not text:
        raise UsageError("TEXT is empty; give some text to look at.")
    if max_tokens < 2:
        raise UsageError(f"--max-tokens {max_tokens} must be at least 2.")
    if png is not None:
        _check_png(png)


def _which(name: str, value: int | None, n: int) -> str:
    if value is None and n > 1:
        return f"mean of {n} {name}s"
    return f"{name} {value or 0} of {n}"  # the mean of a single layer or head is that one


def _show(grid: list[list[float]], labels: list[str], color: bool) -> None:
    """Rows labelled on the left, key labels written downwards above their columns."""
    width = max(len(s) for s in labels)
    for k in range(width):
        heads = "".join(f"{s[k] if k < len(s) else ' ':2}" for s in labels)
        click.echo((" " * (width + 1) + heads).rstrip())
    if not color:
        for label, row in zip(labels, grid, strict=True):
            click.echo(f"{label:<{width}} " + "".join(_shade(w) * 2 for w in row))
        click.echo(f"shade: ' ' cannot see, '{SHADES[1:]}' weight 0 to 1 (square-root scale)")
        return
    from rich.console import Console
    from rich.text import Text

    console = Console(highlight=False, soft_wrap=True)  # a wrapped row would garble the grid
    for label, row in zip(labels, grid, strict=True):
        line = Text(f"{label:<{width}} ")
        for w in row:
            line.append("  ", style=_background(w))
        console.print(line)
    scale = Text("scale: ")
    for w in (0.0, 0.01, 0.05, 0.2, 0.5, 1.0):
        scale.append("  ", style=_background(w)).append(f" {w:g}  ")
    console.print(scale)


def _shade(w: float) -> str:
    if w <= 0.0:  # softmax gives exactly 0 only where the mask forbids looking
        return SHADES[0]
    # square root: with T tokens a uniform row is 1/T, which a linear scale would hide
    return SHADES[max(1, round(w**0.5 * (len(SHADES) - 1)))]


def _background(w: float) -> str:
    if w <= 0.0:
        return ""
    t = min(1.0, w**0.5) * (len(BLUES) - 1)  # square root, as in the plain shades
    i = min(int(t), len(BLUES) - 2)
    lo, hi = BLUES[i], BLUES[i + 1]
    r, g, b = (round(a + (b - a) * (t - i)) for a, b in zip(lo, hi, strict=True))
    return f"on rgb({r},{g},{b})"


def _check_png(path: Path) -> None:
    """Fail before the model runs: matplotlib missing, or nowhere to write."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise TinylmError(
            "--png needs matplotlib: pip install matplotlib (or tinylm[plot])."
        ) from None
    from matplotlib.figure import Figure

    if not path.parent.is_dir():
        raise UsageError(f"--png {path}: the directory {path.parent} does not exist.")
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in Figure().canvas.get_supported_filetypes():
        raise UsageError(f"--png {path}: matplotlib cannot write '.{fmt}' files; use .png or .svg.")


def _write_png(path: Path, grid: list[list[float]], labels: list[str], title: str) -> None:
    """Render with matplotlib's object API (no pyplot: no global state, no GUI backend)."""
    from matplotlib.colors import PowerNorm
    from matplotlib.figure import Figure

    n = len(labels)
    side = min(20.0, 2.5 + 0.3 * n)
    fig = Figure(figsize=(side + 1.5, side))
    ax = fig.subplots()
    # the same square-root scale as the text map, so faint uniform rows stay visible
    im = ax.imshow(grid, cmap="Blues", norm=PowerNorm(0.5, vmin=0.0, vmax=1.0))
    # parse_math off: a token like "$" must stay a label, not start a formula
    ax.set_xticks(range(n), labels, rotation=90, fontsize=8, parse_math=False)
    ax.set_yticks(range(n), labels, fontsize=8, parse_math=False)
    ax.set_xlabel("key (looked at)")
    ax.set_ylabel("query (looking)")
    ax.set_title(title, parse_math=False)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format=path.suffix.lstrip(".").lower(), dpi=150)  # checked in _check_png
    write_atomic(path, buf.getvalue())  # an interrupted run never leaves half an image
