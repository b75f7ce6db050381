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

from tinylm.bounds import Bounds
from tinylm.cli.options import device_option, errors_option, in_bounds
from tinylm.cli.train_help import BATCH_HELP, REPEAT_HELP, SIZE_HELP, WARMUP_HELP
from tinylm.data.options import TOKENIZE_BOUNDS, TokenizeOptions
from tinylm.data.vocab import DEFAULT_VOCAB_SIZE, KINDS
from tinylm.device_options import DEFAULT_PRECISION, PRECISIONS
from tinylm.train.config import (
    DEFAULT_OBJECTIVE,
    DEFAULT_SIZE,
    DEFAULT_TIME,
    DROPOUT,
    EVAL_SHARE,
    MASKING_BOUNDS,
    OBJECTIVES,
    OPTIMIZERS,
    SHAPE_BOUNDS,
    SIZES,
    TRAIN_BOUNDS,
    MaskingConfig,
    TrainConfig,
)

# What a resumed run may change: its budget, its cadence, where it runs and what it shows. The
# rest (objective, shape, optimizer, seed, data...) the run fixed when it began; it is refused.
RESUMABLE = (
    "--time", "--max-steps", "--max-tokens", "--eval-every", "--eval-seconds", "--save-every",
    "--device", "--precision", "--compile", "--sample", "--quiet",
)  # fmt: skip
RESUME_HELP = (
    f"Continue this run exactly. Only {', '.join(RESUMABLE[:-1])} and {RESUMABLE[-1]} may be "
    "given with it (a new budget replaces the saved one); a run whose budget is already spent "
    "is left as it is (exit 0)."
)
# the range of each option that sets a config field, by config
_BOUNDS: dict[type, dict[str, Bounds]] = {TrainConfig: TRAIN_BOUNDS, MaskingConfig: MASKING_BOUNDS}


def _count(bounds: Bounds) -> click.ParamType:
    """The click type of a whole-number option."""
    return in_bounds(bounds, integer=True)


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
    flag: str, cls: type, field: str, help: str | None, choices: tuple[str, ...] = ()
) -> Callable:
    """An option that defaults to (and shows) the default of one field of a config dataclass,
    held to the field's range where it has one."""
    default = next(f.default for f in fields(cls) if f.name == field)
    bounds = _BOUNDS.get(cls, {}).get(field)
    if choices:
        type_: click.ParamType = click.Choice(choices)
    elif bounds is not None:
        type_ = in_bounds(bounds, integer=isinstance(default, int))
    else:
        type_ = click.INT if isinstance(default, int) else click.STRING
    return click.option(flag, type=type_, default=default, show_default=True, help=help)


@click.command()
@click.argument("data", required=False)
@click.option(
    "--objective",
    type=click.Choice(OBJECTIVES),
    default=DEFAULT_OBJECTIVE,
    show_default=True,
    help="causal: a GPT that generates; masked: a BERT that fills blanks; diffusion: a "
    "bidirectional model trained to unmask at every rate (MDLM), which fills blanks and "
    "generates by iterative unmasking.",
)
@click.option(
    "--size",
    type=click.Choice(list(SIZES)),
    default=DEFAULT_SIZE,
    show_default=True,
    help=SIZE_HELP,
)
@click.option(
    "--n-layer",
    type=_count(SHAPE_BOUNDS["n_layer"]),
    help="Override the preset's number of blocks.",
)
@click.option(
    "--n-head", type=_count(SHAPE_BOUNDS["n_head"]), help="Override the preset's attention heads."
)
@click.option(
    "--d-model", type=_count(SHAPE_BOUNDS["d_model"]), help="Override the preset's width."
)
@click.option(
    "--block-size",
    type=_count(SHAPE_BOUNDS["block_size"]),
    help="Override the preset's context length in tokens.",
)
@click.option(
    "--dropout",
    type=in_bounds(SHAPE_BOUNDS["dropout"]),
    help=f"Dropout rate (default {DROPOUT:g}: runs are short).",
)
@click.option("--batch-size", type=_count(TRAIN_BOUNDS["batch_size"]), help=BATCH_HELP)
@_config_option(
    "--grad-accum", TrainConfig, "grad_accum", "Micro-batches summed into one optimizer step."
)
@_config_option(
    "--optimizer",
    TrainConfig,
    "optimizer",
    "muon: Muon for block matrices + AdamW for the rest.",
    OPTIMIZERS,
)
@_config_option("--lr", TrainConfig, "lr", "AdamW learning rate.")
@_config_option("--muon-lr", TrainConfig, "muon_lr", "Muon learning rate.")
@_config_option("--warmup", TrainConfig, "warmup", "Warmup steps.")
@_config_option("--weight-decay", TrainConfig, "weight_decay", None)
@_config_option("--repeat-dropout", TrainConfig, "repeat_dropout", REPEAT_HELP)
@click.option("--batch-warmup", type=in_bounds(TRAIN_BOUNDS["batch_warmup"]), help=WARMUP_HELP)
@_config_option(
    "--mask-rate", MaskingConfig, "rate", "Masked objective: share of tokens hidden in training."
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
@click.option(
    "--max-steps",
    type=_count(TRAIN_BOUNDS["max_steps"]),
    help="Stop after this many optimizer steps.",
)
@click.option(
    "--max-tokens",
    type=_count(TRAIN_BOUNDS["max_tokens"]),
    help="Stop after this many training tokens.",
)
@_config_option(
    "--eval-every", TrainConfig, "eval_every", "Steps between evals (whatever the budget)."
)
@_config_option(
    "--eval-seconds",
    TrainConfig,
    "eval_seconds",
    "With a time budget (--time or the default), also evaluate every this many seconds (0: by "
    f"steps only); these evals take at most {EVAL_SHARE:.0%} of the time, which they count "
    "against. A budget of steps or tokens alone evaluates by steps only, so the same command "
    "repeats the same evals and best/.",
)
@click.option(
    "--save-every", type=_count(TRAIN_BOUNDS["save_every"]), help="Also save last/ every N steps."
)
@_config_option("--seed", TrainConfig, "seed", None)
@device_option(why="auto prefers cuda, then mps, then cpu")
@click.option(
    "--precision",
    type=click.Choice(PRECISIONS),
    default=DEFAULT_PRECISION,
    show_default=True,
    help="auto: bf16 autocast on CUDA (fp16 if unsupported), else fp32.",
)
@click.option(
    "--compile/--no-compile",
    default=None,
    help="torch.compile the model (default: on for CUDA only).",
)
@_config_option("--kind", TokenizeOptions, "kind", "Tokenizer for raw-text DATA.", KINDS)
@click.option(
    "--vocab-size",
    type=_count(TOKENIZE_BOUNDS["vocab_size"]),
    help=f"Vocabulary for raw-text DATA (default {DEFAULT_VOCAB_SIZE}).",
)
@errors_option("raw-text DATA")
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path),
    help="Run directory (default runs/<objective>-<timestamp>).",
)
@click.option("--force", is_flag=True, help="Replace an existing run directory.")
@click.option("--resume", type=click.Path(path_type=Path), help=RESUME_HELP)
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
    """Train a causal (GPT), masked (BERT) or diffusion (MDLM) model.

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

    run_training(request_from_options(data, opts, given_flags(click.get_current_context())))


def given_flags(ctx: click.Context) -> tuple[str, ...]:
    """The options (and DATA) given explicitly, by flag: their defaults come from the configs, so
    only click's parameter source tells a given value from a default one."""
    skip = (None, click.core.ParameterSource.DEFAULT, click.core.ParameterSource.DEFAULT_MAP)
    return tuple(
        next((o for o in p.opts if o.startswith("--")), p.opts[0])
        if isinstance(p, click.Option)
        else p.human_readable_name
        for p in ctx.command.params
        if p.name is not None and ctx.get_parameter_source(p.name) not in skip
    )
