"""`tinylm train`: options -> a typed request -> the library's trainer, rendered on stderr.

Every default shown here is read from its owner (train/config.py, data/options.py, data/vocab.py);
option ranges are click types, so a bad value is refused before anything loads. Torch and
friends are imported inside the command so `--help` stays light.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import click

from tinylm.cli.options import FiniteFloat
from tinylm.data.options import TokenizeOptions
from tinylm.data.vocab import DEFAULT_VOCAB_SIZE, KINDS
from tinylm.train.config import (
    BATCH_SIZES,
    DEFAULT_SIZE,
    DEFAULT_TIME,
    OPTIMIZERS,
    SIZES,
    MaskingConfig,
    TrainConfig,
)

# measured figures (see the end of SIZE_HELP); the shapes come from SIZES
_MEASURED = {
    "tiny": "0.78 M parameters in the blocks, ~20k tokens/s",
    "small": "2.6 M, ~6k tokens/s",
    "base": "10.5 M, ~1.6k tokens/s",
}
SIZE_HELP = (
    "Model size preset. "
    + "; ".join(
        f"{name}: {s['n_layer']} layers, width {s['d_model']}, context {s['block_size']}, "
        f"{_MEASURED[name]}"
        for name, s in SIZES.items()
    )
    + ". Plus vocab x width for the tied embedding. Tokens/s measured on a 2-core laptop CPU "
    "at a 2048 vocabulary (bench/train_bench.py)."
)
POSITIVE = click.IntRange(min=1)


def _batch_help() -> str:
    """'64 tiny, 32 small and base', from the preset table."""
    by_value: dict[int, list[str]] = {}
    for name, batch in BATCH_SIZES.items():
        by_value.setdefault(batch, []).append(name)
    parts = [f"{v} {' and '.join(names)}" for v, names in by_value.items()]
    return f"Windows per step (default: {', '.join(parts)})."


def _shares_text(m: MaskingConfig) -> str:
    return f"{m.p_mask:g},{m.p_random:g},{1 - m.p_mask - m.p_random:g}"


class Shares(click.ParamType):
    """Three shares >= 0 that sum to 1, written a,b,c: hidden tokens set to [MASK], random, kept."""

    name = "text"

    def convert(self, value, param, ctx):  # noqa: ANN001, ANN201
        if isinstance(value, tuple):
            return value
        try:
            shares = tuple(float(x) for x in value.split(","))
        except ValueError:
            shares = ()
        fine = len(shares) == 3 and all(math.isfinite(s) and s >= 0 for s in shares)
        if not fine or abs(sum(shares) - 1.0) > 1e-6:
            self.fail(
                f"{value!r} must be three shares >= 0 that sum to 1, "
                f"e.g. {_shares_text(MaskingConfig())}.",
                param,
                ctx,
            )
        return shares


def _config_option(
    flag: str, cls: type, field: str, type_: click.ParamType, help: str | None
) -> Callable:
    """An option that defaults to (and shows) the default of one field of a config dataclass."""
    default = next(f.default for f in fields(cls) if f.name == field)
    return click.option(flag, type=type_, default=default, show_default=True, help=help)


@click.command()
@click.argument("data", required=False)
@click.option(
    "--objective",
    type=click.Choice(["causal", "masked"]),
    default="causal",
    show_default=True,
    help="causal: a GPT that generates; masked: a BERT that fills blanks.",
)
@click.option(
    "--size",
    type=click.Choice(list(SIZES)),
    default=DEFAULT_SIZE,
    show_default=True,
    help=SIZE_HELP,
)
@click.option("--n-layer", type=POSITIVE, help="Override the preset's number of blocks.")
@click.option("--n-head", type=POSITIVE, help="Override the preset's attention heads.")
@click.option("--d-model", type=POSITIVE, help="Override the preset's width.")
@click.option("--block-size", type=POSITIVE, help="Override the preset's context length in tokens.")
@click.option(
    "--dropout",
    type=FiniteFloat(0, 1, max_open=True),
    help="Dropout rate (default 0: runs are short).",
)
@click.option("--batch-size", type=POSITIVE, help=_batch_help())
@_config_option(
    "--grad-accum",
    TrainConfig,
    "grad_accum",
    POSITIVE,
    "Micro-batches summed into one optimizer step.",
)
@_config_option(
    "--optimizer",
    TrainConfig,
    "optimizer",
    click.Choice(OPTIMIZERS),
    "muon: Muon for block matrices + AdamW for the rest.",
)
@_config_option("--lr", TrainConfig, "lr", FiniteFloat(0, min_open=True), "AdamW learning rate.")
@_config_option(
    "--muon-lr", TrainConfig, "muon_lr", FiniteFloat(0, min_open=True), "Muon learning rate."
)
@_config_option("--warmup", TrainConfig, "warmup", click.IntRange(min=0), "Warmup steps.")
@_config_option("--weight-decay", TrainConfig, "weight_decay", FiniteFloat(0), None)
@_config_option(
    "--mask-rate",
    MaskingConfig,
    "rate",
    FiniteFloat(0, 1, min_open=True, max_open=True),
    "Masked objective: share of tokens hidden in training.",
)
@click.option(
    "--mask-replace",
    type=Shares(),
    default=_shares_text(MaskingConfig()),
    show_default=True,
    help="Masked objective: shares of hidden tokens set to [MASK], random, unchanged.",
)
@click.option(
    "--time",
    "time_",
    help=f"Wall-clock budget, e.g. 90s, 10m, 1h (default {DEFAULT_TIME / 60:g}m when "
    "no budget is given); the learning-rate schedule follows it.",
)
@click.option("--max-steps", type=POSITIVE, help="Stop after this many optimizer steps.")
@click.option("--max-tokens", type=POSITIVE, help="Stop after this many training tokens.")
@_config_option("--eval-every", TrainConfig, "eval_every", POSITIVE, "Steps between evals.")
@click.option("--save-every", type=POSITIVE, help="Also save last/ every N steps.")
@_config_option("--seed", TrainConfig, "seed", click.INT, None)
@click.option(
    "--device",
    default="auto",
    show_default=True,
    help="auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps.",
)
@click.option(
    "--precision",
    type=click.Choice(["auto", "fp32", "bf16", "fp16"]),
    default="auto",
    show_default=True,
    help="auto: bf16 autocast on CUDA (fp16 if unsupported), else fp32.",
)
@click.option(
    "--compile/--no-compile",
    default=None,
    help="torch.compile the model (default: on for CUDA only).",
)
@_config_option(
    "--kind", TokenizeOptions, "kind", click.Choice(KINDS), "Tokenizer for raw-text DATA."
)
@click.option(
    "--vocab-size", type=int, help=f"Vocabulary for raw-text DATA (default {DEFAULT_VOCAB_SIZE})."
)
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path),
    help="Run directory (default runs/<objective>-<timestamp>).",
)
@click.option("--force", is_flag=True, help="Replace an existing run directory.")
@click.option("--resume", type=click.Path(path_type=Path), help="Continue this run exactly.")
@click.option(
    "--init-from",
    type=click.Path(path_type=Path),
    help="Start a new run from this checkpoint's weights.",
)
@click.option(
    "--sample/--no-sample", default=True, show_default=True, help="Show a short sample at the end."
)
@click.option("-q", "--quiet", is_flag=True, help="No progress or summary.")
def train(data: str | None, **opts: Any) -> None:
    """Train a causal (GPT) or masked (BERT) model.

    DATA is a directory written by `tinylm tokenize`, or raw text (a file or directory, tokenized
    into the run directory), or nothing for the bundled Shakespeare corpus.

    \b
    Examples:
      tinylm train                                   # causal, bundled corpus, about 2 minutes
      tinylm train work/tok --objective masked --time 5m
      tinylm train notes.txt --size small --max-steps 2000 --out runs/notes
      tinylm train --resume runs/notes --max-steps 4000
    """
    from tinylm.cli.train_request import request_from_options
    from tinylm.cli.train_run import run_training

    run_training(request_from_options(data, opts))
