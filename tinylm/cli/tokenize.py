"""`tinylm tokenize`: train a tokenizer and write the token files, with progress on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tinylm.cli.options import errors_option, in_bounds
from tinylm.cli.render import ByteProgress
from tinylm.data.options import TOKENIZE_BOUNDS, ReadOptions, TokenizeOptions
from tinylm.data.vocab import DEFAULT_VOCAB_SIZE, KINDS

DEFAULTS = TokenizeOptions()


def _tokenize_summary(meta: dict, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    seconds = meta["seconds"]
    table = Table(title=f"tinylm tokenize -> {out}", title_justify="left")
    for col in ("split", "documents", "bytes", "tokens", "bytes/token"):
        table.add_column(col, justify="left" if col == "split" else "right")
    rows = dict(meta["splits"])
    rows["total"] = {k: sum(s[k] for s in meta["splits"].values()) for k in rows["train"]}
    rows["total"]["documents"] = meta["documents"]  # a tail-sliced document is in both splits
    for name, s in rows.items():
        ratio = s["bytes"] / s["tokens"] if s["tokens"] else 0.0
        table.add_row(
            name, f"{s['documents']:,}", f"{s['bytes']:,}", f"{s['tokens']:,}", f"{ratio:.2f}"
        )
    total_bytes = rows["total"]["bytes"]
    table.caption = (
        f"{meta['tokenizer']['kind']} tokenizer, vocab {meta['vocab_size']:,}, {meta['dtype']}; "
        f"{seconds:.1f} s, {total_bytes / 1e6 / max(seconds, 1e-9):.2f} MB/s"
    )
    table.caption_justify = "left"
    Console(stderr=True).print(table)


@click.command()
@click.argument("inputs", nargs=-1, metavar="[INPUT]...")
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="Output directory (written atomically).",
)
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    default=DEFAULTS.kind,
    show_default=True,
    help="Tokenizer kind: byte-level BPE, WordPiece, Unigram, characters, or raw bytes.",
)
@click.option(
    "--vocab-size",
    type=in_bounds(TOKENIZE_BOUNDS["vocab_size"], integer=True),
    default=DEFAULTS.vocab_size,
    help=f"Vocabulary size for bpe/wordpiece/unigram (default {DEFAULT_VOCAB_SIZE}); char and "
    "byte are sized by their alphabet.",
)
@click.option(
    "--min-frequency",
    type=in_bounds(TOKENIZE_BOUNDS["min_frequency"], integer=True),
    default=DEFAULTS.min_frequency,
    show_default=True,
    help="Minimum count for a merge or word piece to enter the vocabulary.",
)
@click.option(
    "--tokenizer",
    "tokenizer_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Reuse this tokenizer.json instead of training one.",
)
@click.option(
    "--val-fraction",
    type=in_bounds(TOKENIZE_BOUNDS["val_fraction"]),
    default=DEFAULTS.val_fraction,
    show_default=True,
    help="Share of the corpus held out for validation (by document, or a tail slice).",
)
@click.option(
    "--seed",
    type=in_bounds(TOKENIZE_BOUNDS["seed"], integer=True),
    default=DEFAULTS.seed,
    show_default=True,
    help="Seed for choosing validation documents.",
)
@click.option(
    "--text-field",
    default=DEFAULTS.read.text_field,
    show_default=True,
    help="Field holding the text in .jsonl records.",
)
@errors_option("the corpus")
@click.option(
    "--strip-gutenberg", is_flag=True, help="Remove Project Gutenberg headers and footers."
)
@click.option("--force", is_flag=True, help="Replace an existing non-empty output directory.")
@click.option("--json", "as_json", is_flag=True, help="Print meta.json to stdout when done.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary.")
def tokenize(
    inputs: tuple[str, ...],
    out: Path,
    kind: str,
    vocab_size: int | None,
    min_frequency: int,
    tokenizer_path: Path | None,
    val_fraction: float,
    seed: int,
    text_field: str,
    errors: str,
    strip_gutenberg: bool,
    force: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Train a tokenizer and write memory-mapped token files for training.

    INPUT may be files, directories (searched recursively for .txt, .md, .rst, .jsonl and their
    .gz), glob patterns, or - for stdin. With no INPUT the bundled Shakespeare corpus is used.

    \b
    Examples:
      tinylm tokenize --out work/tok
      tinylm tokenize notes/ 'books/*.txt.gz' --out work/tok --kind char
      tinylm tokenize data.jsonl --text-field body --out work/tok --vocab-size 4096
    """
    from tinylm.data.corpus import bundled_corpus
    from tinylm.data.prepare import tokenize_corpus

    opts = TokenizeOptions(
        kind=kind,
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        val_fraction=val_fraction,
        seed=seed,
        tokenizer_path=tokenizer_path,
        read=ReadOptions(errors=errors, text_field=text_field, strip_gutenberg=strip_gutenberg),
    )
    sources = list(inputs) or [str(bundled_corpus())]
    progress = ByteProgress(quiet)
    try:
        meta = tokenize_corpus(sources, out, opts, force=force, progress=progress)
    finally:
        progress.close()
    if not quiet:
        _tokenize_summary(meta, out)
    if as_json:
        click.echo(json.dumps(meta, indent=2))
