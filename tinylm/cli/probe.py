"""`tinylm probe`: how linearly readable a frozen model's representations are, layer by layer."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tinylm.bounds import SEED, Bounds
from tinylm.cli.options import (
    checkpoint_option,
    device_option,
    errors_option,
    in_bounds,
    load_model,
)
from tinylm.data.options import ReadOptions
from tinylm.errors import TinylmError

PASSAGES = 400  # probe examples built from held-out text: enough for 5 folds of 80


@click.command()
@click.argument("run", type=click.Path(path_type=Path))
@click.argument("text", nargs=-1)
@click.option(
    "--labels",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help='Your own task: a JSON-lines file of {"text": ..., "label": ...} records.',
)
@click.option(
    "--passages",
    type=in_bounds(Bounds(20), integer=True),
    default=PASSAGES,
    show_default=True,
    help="Examples per task built from held-out text (without --labels).",
)
@click.option(
    "--seed",
    type=in_bounds(SEED, integer=True),
    default=0,
    show_default=True,
    help="Folds and passages.",
)
@errors_option("TEXT")
@click.option("--json", "as_json", is_flag=True, help="All figures as JSON.")
@checkpoint_option
@device_option("auto")
def probe(
    run: Path,
    text: tuple[str, ...],
    labels: Path | None,
    passages: int,
    seed: int,
    errors: str,
    as_json: bool,
    checkpoint: str,
    device: str,
) -> None:
    """Fit a linear probe on a frozen model's hidden states, per layer.

    Each text is read by the model, its hidden states are mean-pooled per layer, and a logistic
    regression is cross-validated (5 folds, fixed seed) on them. A bag-of-words probe on the
    same folds is the floor a representation must beat. Without --labels the tasks come from
    held-out text (TEXT, or the run's val split): "order" (are a passage's halves in their
    original order?) and, when there are several documents, "source" (which one is it from?).

    \b
    Examples:
      tinylm probe runs/bert
      tinylm probe runs/gpt --labels reviews.jsonl --json
    """
    from tinylm.data.heldout import from_run, from_texts
    from tinylm.device import pick_device
    from tinylm.infer.probe import probe_report
    from tinylm.infer.probe_tasks import probe_tasks, read_labels

    dev, _ = pick_device(device)
    ckpt, tok = load_model(run, checkpoint, dev)
    length = ckpt.config.block_size
    if labels is not None:
        seqs, ys, names = read_labels(labels, tok, length)
        tasks = {labels.name: (seqs, ys)}
    else:
        need = passages * length * 2
        held = (
            from_texts(list(text), tok, need, ReadOptions(errors=errors))
            if text
            else from_run(run, ckpt.tokenizer_path, need)
        )
        tasks = probe_tasks(held.ids, length, passages, seed)
        if not tasks:
            raise TinylmError(
                f"{held.source} is too short to build a probe task; give more text or --labels."
            )
    report = {
        "checkpoint": str(ckpt.path),
        "objective": ckpt.config.objective,
        "tasks": {name: probe_report(ckpt.model, s, y, seed) for name, (s, y) in tasks.items()},
    }
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        _render(report)


def _render(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    for name, task in report["tasks"].items():
        table = Table(
            title=f"{report['objective']} model, probe task '{name}'",
            caption=f"{task['examples']} examples, {task['classes']} classes; chance "
            f"{task['chance']:.1%}; accuracy ± spread over 5 folds",
            title_justify="left",
            caption_justify="left",
        )
        table.add_column("features")
        table.add_column("accuracy", justify="right")
        table.add_row("bag of words (the floor)", _cell(task["bag_of_words"]))
        for k, s in enumerate(task["layers"]):
            cell = _cell(s)
            table.add_row(
                "embeddings" if k == 0 else f"layer {k}",
                f"[bold]{cell}[/]" if k == task["best_layer"] else cell,
            )
        console.print(table)


def _cell(score: dict) -> str:
    return f"{score['accuracy']:.1%} ± {score['std']:.1%}"
