"""`tinylm compare`: a causal and a masked model side by side on the same text, blanks, prompts."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import click

from tinylm.cli.options import device_option, in_bounds, load_model
from tinylm.errors import TinylmError, UsageError
from tinylm.infer.config import COMPARE_BOUNDS, CompareOptions
from tinylm.train.config import DEFAULT_SIZE, SIZES

DEFAULTS = CompareOptions()


def _work_option(name: str, help: str) -> Callable:
    """A how-much-work option: its default and range CompareOptions owns."""
    field = name.removeprefix("--").replace("-", "_")
    kind = in_bounds(COMPARE_BOUNDS[field], integer=True)
    return click.option(
        name, type=kind, default=getattr(DEFAULTS, field), show_default=True, help=help
    )


@click.command()
@click.argument("args", nargs=-1, metavar="RUN_A RUN_B [TEXT]...")
@click.option(
    "--train",
    "train_first",
    is_flag=True,
    help="First train a causal and a masked model of the same size and budget, then compare "
    "them. The one argument, if any, is the DATA to train on (default: the bundled corpus).",
)
@click.option(
    "--time", "time_", default=DEFAULTS.time, show_default=True, help="With --train: each budget."
)
@click.option(
    "--size",
    type=click.Choice(list(SIZES)),
    default=DEFAULT_SIZE,
    show_default=True,
    help="With --train: the model size.",
)
@click.option("--out", type=click.Path(path_type=Path), help="With --train: where the runs go.")
@_work_option("--blanks", "Fill-in-the-blank passages.")
@_work_option("--max-tokens", "Tokens for bits per byte.")
@_work_option("--samples", "Prompts to continue.")
@_work_option("--new-tokens", "Tokens per sample.")
@click.option(
    "--seed",
    type=in_bounds(COMPARE_BOUNDS["seed"], integer=True),
    default=DEFAULTS.seed,
    show_default=True,
    help="Sampling seed.",
)
@click.option("--json", "as_json", is_flag=True, help="All figures and samples as JSON.")
@device_option()
@click.pass_context
def compare(
    ctx: click.Context,
    args: tuple[str, ...],
    train_first: bool,
    time_: str,
    size: str,
    out: Path | None,
    blanks: int,
    max_tokens: int,
    samples: int,
    new_tokens: int,
    seed: int,
    as_json: bool,
    device: str,
) -> None:
    """Compare two checkpoints, natively and simulated, on the same held-out text.

    Both models fill the same blanks (one per passage; a causal model by rescoring, labelled
    simulated), are scored in bits per byte (a masked model by pseudo-likelihood) and continue
    the same prompts (a masked model by mask-predict). TEXT defaults to RUN_A's val split.

    \b
    Examples:
      tinylm compare runs/gpt runs/bert
      tinylm compare runs/gpt runs/bert held_out.txt --json
      tinylm compare --train --time 3m              # the one-command experiment
      tinylm compare --train notes.txt --size small --time 10m
    """
    opts = replace(
        DEFAULTS,
        time=time_,
        blanks=blanks,
        max_tokens=max_tokens,
        samples=samples,
        new_tokens=new_tokens,
        seed=seed,
    )
    if train_first:
        if len(args) > 1:
            raise UsageError("with --train give at most one DATA argument (text or token dir).")
        _check_train_arguments(args[0] if args else None, opts.time)
        runs, texts = _train_pair(ctx, args[0] if args else None, opts, size, out, device), []
    else:
        if len(args) < 2:
            raise UsageError("give two runs to compare (RUN_A RUN_B), or --train.")
        runs, texts = [Path(a) for a in args[:2]], list(args[2:])
        from tinylm.infer.loading import resolve_checkpoint

        for run in runs:  # both before either loads: a mistyped RUN_B is refused at once
            resolve_checkpoint(run)
    report = _measure(runs, texts, opts, device)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        from tinylm.cli.render_compare import render

        render(report)


def _check_train_arguments(data: str | None, budget: str) -> None:
    """Refuse a missing DATA or a bad --time before the first of the two runs starts."""
    from tinylm.train.setup import check_data_exists, parse_duration

    check_data_exists(data)
    parse_duration(budget)


def _train_pair(
    ctx: click.Context,
    data: str | None,
    opts: CompareOptions,
    size: str,
    out: Path | None,
    device: str,
) -> list[Path]:
    from tinylm.cli.train import train
    from tinylm.data.tokens import is_token_dir

    out = out or Path("runs") / f"compare-{time.strftime('%Y%m%d-%H%M%S')}"
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"{out} already exists; choose another --out.")
    runs = [out / "causal", out / "masked"]
    for objective, run in zip(("causal", "masked"), runs, strict=True):
        click.echo(f"Training the {objective} model ({size}, {opts.time})...", err=True)
        ctx.invoke(
            train, data=data, objective=objective, size=size, time_=opts.time, out=run,
            device=device, sample=False,
        )  # fmt: skip
        if data is None or not is_token_dir(Path(data)):  # the masked run reuses those tokens
            data = str(runs[0] / "data")
    return runs


def _measure(runs: list[Path], texts: list[str], opts: CompareOptions, device: str) -> dict:
    from tinylm.data.heldout import from_run, from_texts
    from tinylm.device import pick_device
    from tinylm.infer.compare import BLANK_CONTEXT, facts, measure, warnings

    dev, _ = pick_device(device)
    loaded = [load_model(r, "best", dev) for r in runs]
    info = [facts(ckpt) for ckpt, _ in loaded]
    blank_len = min(BLANK_CONTEXT, *(c.config.block_size for c, _ in loaded))
    need = max(opts.max_tokens, opts.blanks * blank_len) + 2 * max(
        c.config.block_size for c, _ in loaded
    )
    report = {"runs": [], "warnings": warnings(*info), "blank_context": blank_len}
    if not texts and info[0]["tokenizer_sha256"] != info[1]["tokenizer_sha256"]:
        raise UsageError("the two models use different tokenizers; give TEXT to compare them on.")
    for (ckpt, tok), run, fact in zip(loaded, runs, info, strict=True):
        held = (
            from_texts(texts, tok, need) if texts else from_run(runs[0], ckpt.tokenizer_path, need)
        )
        if len(held) < blank_len * 4:
            raise TinylmError(f"{held.source} is too short to compare on; give more text.")
        if len(held) < need:
            report["warnings"].append(
                f"{held.source} holds {len(held):,} tokens: fewer blanks or tokens than asked."
            )
        report["text"] = held.source
        report["runs"].append(
            {"name": str(run), **fact, **measure(ckpt, tok, held, opts, blank_len)}
        )
    report["warnings"] = list(dict.fromkeys(report["warnings"]))
    return report
