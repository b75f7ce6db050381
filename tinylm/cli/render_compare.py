"""Rendering `tinylm compare`'s report: one table of figures, then the samples (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from tinylm.infer.config import PREVIEW

SHOWN_SAMPLES = 3  # samples printed per model; the figures use all of them


def _fmt_int(x: float | None) -> str:
    return "?" if x is None else f"{x:,.0f}"


def _share(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _bits(bpb: dict) -> str:
    if "se" not in bpb:
        return f"{bpb['value']:.3f} ({bpb['method']})"
    return f"≤ {bpb['value']:.3f} ± {bpb['se']:.3f} ({bpb['method']})"


def _probe(run: dict) -> str:
    probe = run.get("probe")
    if probe is None:
        return "-"
    best = probe["best"]
    return f"{best['accuracy']:.1%} ± {best['std']:.1%} (layer {probe['best_layer']})"


def rows(run: dict) -> list[tuple[str, str]]:
    """(measure, value) pairs of one run, in display order."""
    fill, bpb, gen = run["fill_mask"], run["bits_per_byte"], run["generation"]
    seconds = run["train_seconds"]
    judge = gen.get("judge_perplexity")
    return [
        ("objective", run["objective"]),
        ("parameters", f"{run['parameters'] / 1e6:.2f} M"),
        ("layers/heads/width/context", "/".join(str(v) for v in run["shape"].values())),
        ("training tokens", _fmt_int(run["train_tokens"])),
        ("training time", "?" if seconds is None else f"{seconds:.0f} s"),
        ("fill-in-the-blank method", fill["method"]),
        ("fill-in-the-blank top-1", f"{fill['top1']:.1%}"),
        ("fill-in-the-blank top-5", f"{fill['top5']:.1%}"),
        ("time for the blanks", f"{fill['seconds']:.1f} s"),
        ("bits per byte", _bits(bpb)),
        ("pseudo-likelihood bits per byte", f"{bpb['pseudo']:.3f}" if "pseudo" in bpb else "-"),
        ("generation method", gen["method"]),
        ("generation tokens/s", f"{gen['tokens_per_second']:.0f}"),
        ("judge perplexity of samples", "-" if judge is None else f"{judge:.1f}"),
        ("distinct-2 of samples", _share(gen["distinct_2"])),
        ("repeated 4-grams in samples", _share(gen["repetition_4"])),
        ("generated words found in the text", f"{gen['known_words']:.1%}"),
        ("probe: passage order, best layer", _probe(run)),
    ]


def render(report: dict, console: Console | None = None) -> None:
    """The side-by-side table, notes, warnings, and each model's first samples."""
    console = console or Console(highlight=False)
    runs = report["runs"]
    table = Table(title=f"tinylm compare on {report['text']}", title_justify="left")
    table.add_column("", no_wrap=True)
    for run in runs:
        table.add_column(run["name"], overflow="fold")
    for cells in zip(*(rows(run) for run in runs), strict=True):
        table.add_row(cells[0][0], *(value for _, value in cells))
    console.print(table)
    console.print(_notes(report), markup=False)
    for w in report["warnings"]:
        console.print(f"Warning: {w}", style="yellow", markup=False)
    for run in runs:
        console.rule(f"{run['objective']}: {run['generation']['method']}")
        for s in run["generation"]["samples"][:SHOWN_SAMPLES]:
            console.print(f"{s['prompt']}", style="dim", end="", markup=False)
            console.print(s["text"], markup=False)
            console.print()


def _notes(report: dict) -> str:
    """How to read the table: what each measure is, and the judge's reference point."""
    first = report["runs"][0]
    n = first["fill_mask"]["blanks"]
    notes = (
        f"{n} blanks, one per {report.get('blank_context', 64)}-token passage. Bits per byte over "
        "text tokens only: exact for a causal model, an upper bound (negative ELBO, ± its "
        "Monte-Carlo error) for a bidirectional one. "
        f"{len(first['generation']['samples'])} samples per model at temperature "
        f"{PREVIEW.temperature:g}, top-k {PREVIEW.top_k}."
    )
    judge = report.get("judge")
    if judge:
        notes += (
            f" Judge: a {judge['order']}-gram Kneser-Ney model of the train split; it gives the "
            f"real continuations of the same prompts a perplexity of "
            f"{judge['real_text_perplexity']:.1f} (lower is more like the training text; it "
            "sees only local context and rewards copying)."
        )
    probe = first.get("probe")
    if probe:
        notes += (
            f" Probe: are a passage's halves in order? {probe['examples']} passages, chance "
            f"{probe['chance']:.0%}, bag of words {probe['bag_of_words']['accuracy']:.1%}."
        )
    return notes
