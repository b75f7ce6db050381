"""`tinylm fill-mask`: the most likely words for each [MASK], from a masked checkpoint."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from tinylm.cli.options import checkpoint_option, device_option, in_bounds, load_model
from tinylm.errors import UsageError
from tinylm.infer.config import FILL_MASK_BOUNDS, SHORTLIST


@click.command("fill-mask")
@click.argument("run", type=click.Path(path_type=Path))
@click.argument("text", required=False)
@click.option(
    "-k",
    "--top-k",
    type=in_bounds(FILL_MASK_BOUNDS["top_k"], integer=True),
    default=5,
    show_default=True,
    help="Candidates shown for each mask.",
)
@click.option("--targets", help="Comma-separated words: rank only these candidates.")
@click.option(
    "--joint",
    is_flag=True,
    help="Fill masks one at a time, surest first, re-reading the text each time.",
)
@click.option(
    "--shortlist",
    type=in_bounds(FILL_MASK_BOUNDS["shortlist"], integer=True),
    default=SHORTLIST,
    show_default=True,
    help="Causal models only: candidates per mask to rescore with the whole text.",
)
@click.option(
    "--input-file",
    type=click.Path(path_type=Path),
    help="One text per line ('-' for stdin); one result per line.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Hugging Face fill-mask JSON (JSON lines with --input-file).",
)
@checkpoint_option
@device_option("cpu", "cpu is fast enough for one sentence")
def fill_mask(
    run: Path,
    text: str | None,
    top_k: int,
    targets: str | None,
    joint: bool,
    shortlist: int,
    input_file: Path | None,
    as_json: bool,
    checkpoint: str,
    device: str,
) -> None:
    """Fill in the blanks of TEXT with a masked model (or, simulated, a causal one).

    Write [MASK] (or <mask>) where a token is missing; each mask is one token. A causal model
    cannot read past a blank, so with one the answer is simulated: its likeliest next tokens
    are reranked by how likely each makes the whole text (slower, and labelled as such).

    \b
    Examples:
      tinylm fill-mask runs/bert "To be, or not to [MASK], that is the question."
      tinylm fill-mask runs/bert "Good [MASK], my [MASK]." --joint --json
      tinylm fill-mask runs/bert "The [MASK] is dead." --targets king,queen
      tinylm fill-mask runs/bert --input-file sentences.txt --json
    """
    from tinylm.device import pick_device
    from tinylm.infer.fill_mask import causal_fill_note, encode_masked, target_ids
    from tinylm.infer.fill_mask import fill_mask as fill

    if (text is None) == (input_file is None):
        raise UsageError("give TEXT or --input-file (one of them).")
    lines = [text] if input_file is None else _read_lines(input_file)
    dev, _ = pick_device(device)
    ckpt, tok = load_model(run, checkpoint, dev)
    if ckpt.config.causal:
        click.echo(causal_fill_note(str(run), shortlist), err=True)
    allowed = None
    if targets:
        allowed, warnings = target_ids(tok, [t for t in targets.split(",") if t])
        for w in warnings:
            click.echo(f"Warning: {w}", err=True)
    for n, line in enumerate(lines, 1):
        try:
            ids = encode_masked(tok, line, ckpt.config.block_size, ckpt.config.causal)
        except UsageError as e:
            raise UsageError(f"line {n}: {e}" if input_file else str(e)) from None
        results = fill(ckpt.model, tok, ids, top_k, allowed, joint, shortlist)
        _show(tok, ids, results, as_json, input_file is not None, ckpt.config.causal)


def _read_lines(path: Path) -> list[str]:
    """The non-blank lines of --input-file ('-': stdin)."""
    from tinylm.infer.loading import read_prompt_bytes

    if str(path) == "-":
        raw = sys.stdin.buffer.read()
    elif path.is_file():
        raw = path.read_bytes()
    else:
        raise UsageError(f"input file {path} does not exist.")
    return [ln for ln in read_prompt_bytes(raw, str(path)).split("\n") if ln.strip()]


def _show(tok, ids: list[int], results, as_json: bool, batch: bool, simulated: bool) -> None:  # noqa: ANN001
    from tinylm.infer.fill_mask import completed, pipeline_json

    if as_json:
        click.echo(json.dumps(pipeline_json(results), indent=None if batch else 2))
        return
    filled = completed(tok, ids, results)
    if not sys.stdout.isatty():
        for i, cands in enumerate(results, 1):
            shown = ", ".join(f"{c.token_str!r} {c.score:.3f}" for c in cands)
            click.echo(f"mask {i}: {shown}")
        click.echo(filled)
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for i, cands in enumerate(results, 1):
        title = f"\\[MASK] {i}" if len(results) > 1 else "\\[MASK]"  # escaped: not rich markup
        title += " (simulated by a causal model)" if simulated else ""
        table = Table(title=title, title_justify="left")
        table.add_column("token")
        table.add_column("probability", justify="right")
        table.add_column("")
        for c in cands:
            table.add_row(repr(c.token_str), f"{c.score:.3f}", "█" * max(1, round(c.score * 30)))
        console.print(table)
    console.print(filled, markup=False)
