"""`tinylm train`: options -> a configured run -> the library's trainer, rendered on stderr.

Imported by cli.py; torch and friends are imported inside the command so `--help` stays light.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import click

from tinylm.data.vocab import KINDS

SIZE_HELP = (
    "Model size preset. tiny: 4 layers, width 128, context 64, 0.78 M parameters in the blocks, "
    "~20k tokens/s; small: 6 layers, width 192, context 128, 2.6 M, ~6k tokens/s; base: 6 layers, "
    "width 384, context 256, 10.5 M, ~1.6k tokens/s. Plus vocab x width for the tied embedding. "
    "Tokens/s measured on a 2-core laptop CPU at a 2048 vocabulary (bench/train_bench.py)."
)


class _StopFlag:
    """Ctrl-C / SIGTERM once: finish the step, save, stop. Twice: stop at once."""

    def __init__(self) -> None:
        self.asked = False

    def __call__(self) -> bool:
        return self.asked

    def install(self) -> None:
        def handler(signum, frame):  # noqa: ANN001 - signal's signature
            if self.asked:
                raise KeyboardInterrupt
            self.asked = True

        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)


def _distributed() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0"))


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
    type=click.Choice(["tiny", "small", "base"]),
    default="tiny",
    show_default=True,
    help=SIZE_HELP,
)
@click.option("--n-layer", type=int, help="Override the preset's number of blocks.")
@click.option("--n-head", type=int, help="Override the preset's attention heads.")
@click.option("--d-model", type=int, help="Override the preset's width.")
@click.option("--block-size", type=int, help="Override the preset's context length in tokens.")
@click.option("--dropout", type=float, help="Dropout rate (default 0: runs are short).")
@click.option(
    "--batch-size", type=int, help="Windows per step (default: 64 tiny, 32 small and base)."
)
@click.option(
    "--grad-accum",
    type=int,
    default=1,
    show_default=True,
    help="Micro-batches summed into one optimizer step.",
)
@click.option(
    "--optimizer",
    type=click.Choice(["muon", "adamw"]),
    default="muon",
    show_default=True,
    help="muon: Muon for block matrices + AdamW for the rest.",
)
@click.option("--lr", type=float, default=3e-3, show_default=True, help="AdamW learning rate.")
@click.option("--muon-lr", type=float, default=0.02, show_default=True, help="Muon learning rate.")
@click.option("--warmup", type=int, default=50, show_default=True, help="Warmup steps.")
@click.option("--weight-decay", type=float, default=0.0, show_default=True)
@click.option(
    "--mask-rate",
    type=float,
    default=0.3,
    show_default=True,
    help="Masked objective: share of tokens hidden in training.",
)
@click.option(
    "--mask-replace",
    default="0.8,0.1,0.1",
    show_default=True,
    help="Masked objective: shares of hidden tokens set to [MASK], random, unchanged.",
)
@click.option(
    "--time",
    "time_",
    help="Wall-clock budget, e.g. 90s, 10m, 1h (default 2m when "
    "no budget is given); the learning-rate schedule follows it.",
)
@click.option("--max-steps", type=int, help="Stop after this many optimizer steps.")
@click.option("--max-tokens", type=int, help="Stop after this many training tokens.")
@click.option("--eval-every", type=int, default=250, show_default=True, help="Steps between evals.")
@click.option("--save-every", type=int, help="Also save last/ every N steps.")
@click.option("--seed", type=int, default=1337, show_default=True)
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
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    default="bpe",
    show_default=True,
    help="Tokenizer for raw-text DATA.",
)
@click.option("--vocab-size", type=int, help="Vocabulary for raw-text DATA (default 2048).")
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
def train(data: str | None, **opts) -> None:
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
    from tinylm.cli.train_run import run_training

    run_training(data, opts, _StopFlag(), _distributed())
