"""`tinylm compare`: a causal and a masked model side by side on the same text, blanks, prompts."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from tinylm.cli.options import device_option
from tinylm.errors import UsageError


@click.command()
@click.argument("args", nargs=-1, metavar="RUN_A RUN_B [TEXT]...")
@click.option(
    "--train",
    "train_first",
    is_flag=True,
    help="First train a causal and a masked model of the same size and budget, then compare "
    "them. The one argument, if any, is the DATA to train on (default: the bundled corpus).",
)
@click.option("--time", "time_", default="2m", show_default=True, help="With --train: each budget.")
@click.option(
    "--size",
    type=click.Choice(["tiny", "small", "base"]),
    default="tiny",
    show_default=True,
    help="With --train: the model size.",
)
@click.option("--out", type=click.Path(path_type=Path), help="With --train: where the runs go.")
@click.option(
    "--blanks", type=int, default=200, show_default=True, help="Fill-in-the-blank passages."
)
@click.option(
    "--max-tokens", type=int, default=2048, show_default=True, help="Tokens for bits per byte."
)
@click.option("--samples", type=int, default=3, show_default=True, help="Prompts to continue.")
@click.option("--new-tokens", type=int, default=100, show_default=True, help="Tokens per sample.")
@click.option("--seed", type=int, default=0, show_default=True, help="Sampling seed.")
@click.option("--json", "as_json", is_flag=True, help="All figures and samples as JSON.")
@device_option()
@click.pass_context
def compare(ctx: click.Context, args: tuple[str, ...], train_first: bool, **o) -> None:
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
    from tinylm.infer.compare import CompareOptions

    for name in ("blanks", "max_tokens", "samples", "new_tokens"):
        if o[name] < 1:
            raise UsageError(f"--{name.replace('_', '-')} {o[name]} must be at least 1.")
    opts = CompareOptions(
        o["blanks"], o["max_tokens"], o["samples"], o["new_tokens"], 32, o["seed"]
    )
    if train_first:
        if len(args) > 1:
            raise UsageError("with --train give at most one DATA argument (text or token dir).")
        runs, texts = _train_pair(ctx, args[0] if args else None, o), []
    else:
        if len(args) < 2:
            raise UsageError("give two runs to compare (RUN_A RUN_B), or --train.")
        runs, texts = [Path(a) for a in args[:2]], list(args[2:])
    report = _measure(runs, texts, opts, o["device"])
    if o["as_json"]:
        click.echo(json.dumps(report, indent=2))
    else:
        from tinylm.cli.render_compare import render

        render(report)


def _train_pair(ctx: click.Context, data: str | None, o: dict) -> list[Path]:
    from tinylm.cli.train import train
    from tinylm.data.tokens import is_token_dir

    out = o["out"] or Path("runs") / f"compare-{time.strftime('%Y%m%d-%H%M%S')}"
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"{out} already exists; choose another --out.")
    runs = [out / "causal", out / "masked"]
    for objective, run in zip(("causal", "masked"), runs, strict=True):
        click.echo(f"Training the {objective} model ({o['size']}, {o['time_']})...", err=True)
        ctx.invoke(
            train, data=data, objective=objective, size=o["size"], time_=o["time_"], out=run,
            device=o["device"], sample=False,
        )  # fmt: skip
        if data is None or not is_token_dir(Path(data)):  # the masked run reuses those tokens
            data = str(runs[0] / "data")
    return runs


def _measure(runs: list[Path], texts: list[str], opts, device: str) -> dict:  # noqa: ANN001
    from tinylm.data.heldout import from_run, from_texts
    from tinylm.device import pick_device
    from tinylm.infer.compare import BLANK_CONTEXT, facts, measure, warnings
    from tinylm.infer.loading import load_for_inference

    dev, _ = pick_device(device)
    loaded = [load_for_inference(r, "best", dev) for r in runs]
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
            raise UsageError(f"{held.source} is too short to compare on; give more text.")
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
