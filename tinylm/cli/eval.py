"""`tinylm eval`: any checkpoint on any text, with the measures that suit its family."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tinylm.cli.options import (
    checkpoint_option,
    device_option,
    errors_option,
    in_bounds,
    load_model,
)
from tinylm.data.options import ReadOptions
from tinylm.errors import TinylmError, UsageError
from tinylm.infer.config import EVAL_BOUNDS

LABELS = {
    "tokens": ("tokens scored", "{:,}"),
    "loss": ("loss (nats/token)", "{:.4f}"),
    "masked_loss": ("masked CE, fixed 15 % masks", "{:.4f}"),
    "masked_top1": ("masked top-1, fixed 15 % masks", "{:.1%}"),
    "masked_tokens": ("masked tokens", "{:,}"),
    "elbo_loss": ("ELBO bound loss (nats/token)", "{:.4f}"),
    "perplexity": ("perplexity", "{:.2f}"),
    "bits_per_byte": ("bits per byte", "{:.4f}"),
    "bits_per_byte_se": ("  ± Monte-Carlo standard error", "{:.4f}"),
    "pseudo_tokens": ("pseudo-likelihood tokens", "{:,}"),
    "pseudo_loss": ("pseudo-likelihood loss (nats/token)", "{:.4f}"),
    "pseudo_bits_per_byte": ("pseudo-likelihood bits per byte (not a bound)", "{:.4f}"),
}


@click.command("eval")
@click.argument("run", type=click.Path(path_type=Path))
@click.argument("text", nargs=-1)
@click.option(
    "--max-tokens",
    type=in_bounds(EVAL_BOUNDS["max_tokens"], integer=True),
    default=4096,
    show_default=True,
    help="Most tokens scored (a masked model runs one forward per scored token).",
)
@errors_option("TEXT")
@click.option("--json", "as_json", is_flag=True, help="The figures as one JSON object.")
@checkpoint_option
@device_option()
def eval_(
    run: Path,
    text: tuple[str, ...],
    max_tokens: int,
    errors: str,
    as_json: bool,
    checkpoint: str,
    device: str,
) -> None:
    """Evaluate a checkpoint on TEXT (files, directories, '-') or on its run's val split.

    Causal models: loss, perplexity and bits per byte. Bidirectional models (masked, diffusion):
    cross-entropy and top-1 at fixed-seed 15 % masks; bits per byte of the negative ELBO, an
    upper bound on the true figure and so comparable with a causal model's, estimated with a
    fixed seed and given with its Monte-Carlo standard error; and, second, pseudo-likelihood
    bits per byte (each token hidden in turn), which is not a probability of the text.

    \b
    Examples:
      tinylm eval runs/gpt
      tinylm eval runs/bert other_play.txt --json
    """
    from tinylm.data.heldout import from_run, from_texts
    from tinylm.device import pick_device
    from tinylm.infer.scoring import measure

    if errors != ReadOptions.errors and not text:  # the val split is token ids, never decoded
        raise UsageError(f"--errors {errors} applies to TEXT; give the text to read.")
    dev, _ = pick_device(device)
    ckpt, tok = load_model(run, checkpoint, dev)
    held = (
        from_texts(list(text), tok, max_tokens, ReadOptions(errors=errors))
        if text
        else from_run(run, ckpt.tokenizer_path, max_tokens + ckpt.config.block_size + 1)
    )
    if len(held) < ckpt.config.block_size + 1:  # too little text is a data problem: exit 1
        raise TinylmError(
            f"{held.source} has {len(held)} tokens, fewer than one window of this model "
            f"({ckpt.config.block_size + 1}); give more text."
        )
    figures = measure(ckpt.model, held.ids, held.bytes_per_token, max_tokens)
    figures["text"] = held.source
    figures["checkpoint"] = str(ckpt.path)
    if as_json:
        click.echo(json.dumps(figures, indent=2))
    else:
        _render(figures)


def _render(figures: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"{figures['objective']} model {figures['checkpoint']}",
        caption=f"text: {figures['text']}",
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, (label, fmt) in LABELS.items():
        if key in figures:
            table.add_row(label, fmt.format(figures[key]))
    Console(highlight=False).print(table)
