"""`tinylm compare`: two or three models (causal, masked, diffusion) side by side on the same
text, blanks and prompts."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import click

from tinylm.cli.options import device_option, errors_option, in_bounds, load_model
from tinylm.data.options import ReadOptions
from tinylm.errors import TinylmError, UsageError
from tinylm.infer.config import COMPARE_BOUNDS, CompareOptions
from tinylm.train.config import DEFAULT_SIZE, OBJECTIVES, SIZES

DEFAULTS = CompareOptions()
MAX_RUNS = 3


class Families(click.ParamType):
    """A comma-separated list of distinct training objectives, in the order given."""

    name = "families"

    def convert(self, value, param, ctx):  # noqa: ANN001, ANN201
        if isinstance(value, tuple):
            return value
        chosen = tuple(v.strip() for v in value.split(",") if v.strip())
        wrong = [v for v in chosen if v not in OBJECTIVES]
        if wrong or len(set(chosen)) != len(chosen) or not 2 <= len(chosen) <= MAX_RUNS:
            self.fail(
                f"{value!r}: give two or three distinct families of {', '.join(OBJECTIVES)}.",
                param,
                ctx,
            )
        return chosen


def _work_option(name: str, help: str) -> Callable:
    """A how-much-work option: its default and range CompareOptions owns."""
    field = name.removeprefix("--").replace("-", "_")
    kind = in_bounds(COMPARE_BOUNDS[field], integer=True)
    return click.option(
        name, type=kind, default=getattr(DEFAULTS, field), show_default=True, help=help
    )


@click.command()
@click.argument("args", nargs=-1, metavar="RUN RUN [RUN] [TEXT]...")
@click.option(
    "--train",
    "train_first",
    is_flag=True,
    help="First train one model of each family (--families) at the same size and budget, then "
    "compare them. The one argument, if any, is the DATA to train on (default: the bundled "
    "corpus).",
)
@click.option(
    "--families",
    type=Families(),
    default=",".join(OBJECTIVES),
    show_default=True,
    help="With --train: which families to train and compare.",
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
@errors_option("TEXT")
@click.option("--json", "as_json", is_flag=True, help="All figures and samples as JSON.")
@device_option()
@click.pass_context
def compare(
    ctx: click.Context,
    args: tuple[str, ...],
    train_first: bool,
    families: tuple[str, ...],
    time_: str,
    size: str,
    out: Path | None,
    blanks: int,
    max_tokens: int,
    samples: int,
    new_tokens: int,
    seed: int,
    errors: str,
    as_json: bool,
    device: str,
) -> None:
    """Compare two or three checkpoints, natively and simulated, on the same held-out text.

    Every model fills the same blanks (a causal one by rescoring, labelled simulated), is scored
    in bits per byte (exact for a causal model, the ELBO bound for a bidirectional one),
    continues the same prompts (a BERT-style masked model by iterative unmasking, labelled
    simulated), has its samples judged by an n-gram model of the train split that is none of
    them, and is probed for what its hidden states know. TEXT defaults to the first run's val
    split.

    \b
    Examples:
      tinylm compare runs/gpt runs/bert runs/mdlm
      tinylm compare runs/gpt runs/bert held_out.txt --json
      tinylm compare --train --time 3m              # the one-command experiment
      tinylm compare --train notes.txt --families causal,diffusion --size small --time 10m
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
        data = args[0] if args else None
        runs, texts = _train_runs(ctx, data, families, opts, size, out, device), []
    else:
        runs, texts = _split_arguments(args)
    report = _measure(runs, texts, opts, device, ReadOptions(errors=errors))
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        from tinylm.cli.render_compare import render

        render(report)


def _split_arguments(args: tuple[str, ...]) -> tuple[list[Path], list[str]]:
    """The leading arguments that are runs or checkpoints (two or three), then TEXT."""
    from tinylm.infer.loading import resolve_checkpoint

    runs: list[Path] = []
    for arg in args[:MAX_RUNS]:
        path = Path(arg)
        if not any((path / name).exists() for name in ("run.json", "config.json", "best", "last")):
            break
        runs.append(path)
    if len(runs) < 2:
        if len(args) > len(runs):
            resolve_checkpoint(Path(args[len(runs)]))  # says why it is not a run (2 if missing)
        raise UsageError("give two or three runs to compare (RUN RUN [RUN]), or --train.")
    for run in runs:  # all before any loads: a mistyped run is refused at once
        resolve_checkpoint(run)
    return runs, list(args[len(runs) :])


def _check_train_arguments(data: str | None, budget: str) -> None:
    """Refuse a missing DATA or a bad --time before the first of the two runs starts."""
    from tinylm.train.setup import check_data_exists, parse_duration

    check_data_exists(data)
    parse_duration(budget)


def _train_runs(
    ctx: click.Context,
    data: str | None,
    families: tuple[str, ...],
    opts: CompareOptions,
    size: str,
    out: Path | None,
    device: str,
) -> list[Path]:
    """One run per family, same data, size and budget, under `out`."""
    from tinylm.cli.train import train
    from tinylm.data.tokens import is_token_dir

    out = out or Path("runs") / f"compare-{time.strftime('%Y%m%d-%H%M%S')}"
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"{out} already exists; choose another --out.")
    runs = [out / family for family in families]
    for family, run in zip(families, runs, strict=True):
        click.echo(f"Training the {family} model ({size}, {opts.time})...", err=True)
        ctx.invoke(
            train, data=data, objective=family, size=size, time_=opts.time, out=run,
            device=device, sample=False,
        )  # fmt: skip
        if data is None or not is_token_dir(Path(data)):  # later runs reuse the first's tokens
            data = str(runs[0] / "data")
    return runs


def _measure(
    runs: list[Path], texts: list[str], opts: CompareOptions, device: str, read: ReadOptions
) -> dict:
    from tinylm.data.heldout import from_run, from_texts, run_dir_of
    from tinylm.device import pick_device
    from tinylm.infer.compare import (
        BLANK_CONTEXT,
        PROBE_PASSAGES,
        build_judge,
        facts,
        measure,
        prompt_starts,
        real_text_perplexity,
        warnings,
    )

    dev, _ = pick_device(device)
    loaded = [load_model(r, "best", dev) for r in runs]
    info = [facts(ckpt) for ckpt, _ in loaded]
    blank_len = min(BLANK_CONTEXT, *(c.config.block_size for c, _ in loaded))
    block = max(c.config.block_size for c, _ in loaded)
    asked = max(opts.max_tokens, opts.blanks * blank_len) + 2 * block
    spread = PROBE_PASSAGES * block  # prompts and probe passages come from this many tokens
    need = max(asked, spread)
    same_tokenizer = len({f["tokenizer_sha256"] for f in info}) == 1
    if not texts and not same_tokenizer:
        raise UsageError("the models use different tokenizers; give TEXT to compare them on.")
    judged = build_judge(run_dir_of(runs[0])) if same_tokenizer else None
    judge = judged[0] if judged else None
    report = {"runs": [], "warnings": warnings(info), "blank_context": blank_len, "judge": None}
    for (ckpt, tok), run, fact in zip(loaded, runs, info, strict=True):
        held = (
            from_texts(texts, tok, need, read)
            if texts
            else from_run(runs[0], ckpt.tokenizer_path, need)
        )
        if len(held) < blank_len * 4:
            raise TinylmError(f"{held.source} is too short to compare on; give more text.")
        if len(held) < asked:
            report["warnings"].append(
                f"{held.source} holds {len(held):,} tokens: fewer blanks or tokens than asked."
            )
        report["text"] = held.source
        sampled = replace(held, ids=held.ids[:spread])
        figures = measure(ckpt, tok, held, opts, blank_len, judge, sampled)
        report["runs"].append({"name": str(run), **fact, **figures})
    if judge is not None:
        prompt_len = min(loaded[0][0].config.block_size // 4, 24)
        starts = prompt_starts(sampled, opts, prompt_len)
        real = real_text_perplexity(judge, sampled, starts, prompt_len, opts.new_tokens)
        report["judge"] = {"order": judge.order, "data": judged[1], "real_text_perplexity": real}
    elif same_tokenizer:
        report["warnings"].append("no train split found for the judge; samples are not judged.")
    report["warnings"] = list(dict.fromkeys(report["warnings"]))
    return report
