"""Terminal rendering for the CLI: progress, banners and tables on stderr (rich and tqdm)."""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.table import Table


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False)


def fmt_seconds(s: float) -> str:
    s = max(0, int(round(s)))
    return (
        f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


class ByteProgress:
    """Byte progress bars on stderr, one per stage; silent when stderr is not a terminal."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar = None

    def stage(self, name: str, total: int) -> None:
        from tqdm import tqdm

        self.close()
        self.bar = tqdm(
            total=total,
            desc=name,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            file=sys.stderr,
            disable=True if self.quiet else None,
            leave=False,
        )

    def advance(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class TrainReporter:
    """Training progress: a rich bar on a terminal, plain lines every few seconds otherwise."""

    def __init__(self, console: Console, quiet: bool, plain_every: float = 5.0) -> None:
        self.console = console
        self.quiet = quiet
        self.live = console.is_terminal and not quiet
        self.plain_every = plain_every
        self.last_plain = -float("inf")
        self.val: float | None = None
        self.acc: float | None = None
        self.prev: tuple[float, int] | None = None
        self.tok_s = 0.0
        self.progress = None
        self.task = None

    def __enter__(self) -> TrainReporter:
        if self.live:
            from rich.progress import BarColumn, Progress, TextColumn

            self.progress = Progress(
                TextColumn("[bold]train"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TextColumn("{task.fields[info]}"),
                console=self.console,
                transient=True,
            )
            self.progress.__enter__()
            self.task = self.progress.add_task("train", total=1.0, info="starting...")
        return self

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)

    def __call__(self, event: dict) -> None:
        kind = event["event"]
        if kind == "eval":
            self.val = event["val_loss"]
            self.acc = event.get("val_acc")
            if not self.quiet and not self.live:
                self._line(f"eval step {event['step']}: " + self._val_text())
            return
        if kind != "step":
            return
        now = (event["elapsed"], event["tokens"])
        if self.prev is not None and now[0] > self.prev[0]:
            rate = (now[1] - self.prev[1]) / (now[0] - self.prev[0])
            self.tok_s = rate if self.tok_s == 0 else 0.7 * self.tok_s + 0.3 * rate
        self.prev = now
        frac = event["fraction"]
        eta = event["elapsed"] * (1 - frac) / frac if frac > 0 else 0.0
        info = (
            f"step {event['step']}  loss {event['loss']:.3f}  {self._val_text()}  "
            f"lr x{event['lr_scale']:.2f}  {self.tok_s:,.0f} tok/s  "
            f"{fmt_seconds(event['elapsed'])} elapsed, ETA {fmt_seconds(eta)}"
        )
        if self.progress is not None:
            self.progress.update(self.task, completed=min(frac, 1.0), info=info)
        elif not self.quiet and time.monotonic() - self.last_plain >= self.plain_every:
            self.last_plain = time.monotonic()
            self._line(f"{frac:4.0%} {info}")

    def _val_text(self) -> str:
        if self.val is None:
            return "val -"
        text = f"val {self.val:.3f}"
        return text + (f" (top-1 {self.acc:.1%})" if self.acc is not None else "")

    def _line(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)


def train_summary(console: Console, result: dict, metrics: dict, out: str, objective: str) -> None:
    """The end-of-run table."""
    table = Table(title=f"tinylm train -> {out}", title_justify="left", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    elapsed = result["elapsed"]
    table.add_row("stopped by", "Ctrl-C / signal" if result["reason"] == "stopped" else "budget")
    table.add_row("steps", f"{result['step']:,}")
    table.add_row("tokens seen", f"{result['tokens']:,}")
    table.add_row("time", f"{elapsed:.1f} s")
    table.add_row("tokens/s", f"{result['tokens'] / max(elapsed, 1e-9):,.0f}")
    if objective == "causal":
        table.add_row("val loss (nats/token)", f"{metrics['val_loss']:.4f}")
        table.add_row("val perplexity", f"{metrics['val_ppl']:.2f}")
        table.add_row("val bits per byte", f"{metrics['val_bpb']:.4f}")
    elif objective == "diffusion":
        table.add_row("val ELBO bound (nats/token)", f"{metrics['val_loss']:.4f}")
        table.add_row("val bits per byte (bound)", f"{metrics['val_bpb']:.4f}")
        table.add_row("val top-1 accuracy (15 % masks)", f"{metrics['val_acc']:.1%}")
    else:
        table.add_row("val masked CE (15 % masks)", f"{metrics['val_loss']:.4f}")
        table.add_row("val top-1 accuracy", f"{metrics['val_acc']:.1%}")
    if result.get("best_val") is not None:
        table.add_row("best val loss", f"{result['best_val']:.4f}")
    table.add_row("checkpoints", f"{out}/best, {out}/last")
    console.print(table)
