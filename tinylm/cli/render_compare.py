"""Rendering `tinylm compare`'s report: one table of figures, then the samples (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from tinylm.infer.config import PREVIEW


def _fmt_int(x: float | None) -> str:
    return "?" if x is None else f"{x:,.0f}"


def rows(run: dict) -> list[tuple[str, str]]:
    """(measure, value) pairs of one run, in display order."""
    fill, bpb, gen = run["fill_mask"], run["bits_per_byte"], run["generation"]
    shape = run["shape"]
    seconds = run["train_seconds"]
    return [
        ("objective", run["objective"]),
        ("parameters", f"{run['parameters'] / 1e6:.2f} M"),
        ("layers/heads/width/context", "/".join(str(v) for v in shape.values())),
        ("training tokens", _fmt_int(run["train_tokens"])),
        ("training time", "?" if seconds is None else f"{seconds:.0f} s"),
        ("fill-in-the-blank method", fill["method"]),
        ("fill-in-the-blank top-1", f"{fill['top1']:.1%}"),
        ("fill-in-the-blank top-5", f"{fill['top5']:.1%}"),
        ("time for the blanks", f"{fill['seconds']:.1f} s"),
        ("bits per byte", f"{bpb['value']:.3f} ({bpb['method']})"),
        ("generation method", gen["method"]),
        ("generation tokens/s", f"{gen['tokens_per_second']:.0f}"),
        ("generated words found in the text", f"{gen['known_words']:.1%}"),
        ("distinct generated words", f"{gen['distinct_words']:.1%}"),
    ]


def render(report: dict, console: Console | None = None) -> None:
    """The side-by-side table, warnings, and each model's samples."""
    console = console or Console(highlight=False)
    a, b = report["runs"]
    table = Table(title=f"tinylm compare on {report['text']}", title_justify="left")
    table.add_column("", no_wrap=True)
    table.add_column(a["name"], overflow="fold")
    table.add_column(b["name"], overflow="fold")
    for (label, x), (_, y) in zip(rows(a), rows(b), strict=True):
        table.add_row(label, x, y)
    console.print(table)
    n = a["fill_mask"]["blanks"]
    console.print(
        f"{n} blanks, one per {report.get('blank_context', 64)}-token passage; bits per byte over "
        f"text tokens only; samples at temperature {PREVIEW.temperature:g}, top-k {PREVIEW.top_k}.",
        markup=False,
    )
    for w in report["warnings"]:
        console.print(f"Warning: {w}", style="yellow", markup=False)
    for run in report["runs"]:
        console.rule(f"{run['objective']}: {run['generation']['method']}")
        for s in run["generation"]["samples"]:
            console.print(f"{s['prompt']}", style="dim", end="", markup=False)
            console.print(s["text"], markup=False)
            console.print()
