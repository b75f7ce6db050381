"""Shared pieces of the training benchmarks: data, a timed training loop, full validation.

Every figure is measured on `../shared/corpora/tinyshakespeare.txt` with a char tokenizer, first
90 % train, last 10 % val (cut at a line end), 2 threads. Training time excludes evaluation.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from tinylm.data.prepare import TokenizeOptions, tokenize_corpus
from tinylm.data.tokens import TokenData, fixed_windows, load_token_dir
from tinylm.device import pick_runtime
from tinylm.model import ModelConfig, Transformer
from tinylm.train.config import TrainConfig
from tinylm.train.optim import lr_factor
from tinylm.train.trainer import Trainer
from tinylm.validate import evaluate

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "tinyshakespeare.txt"
NANOGPT = dict(n_layer=4, n_head=4, d_model=128, block_size=64, dropout=0.0)  # nanoGPT's CPU recipe


def shakespeare_chars(work: Path | None = None) -> TokenData:
    """tinyshakespeare, char-level, 90/10 tail split."""
    if not CORPUS.is_file():
        raise SystemExit(f"benchmark corpus not found: {CORPUS}")
    work = work or Path(tempfile.mkdtemp(prefix="tinylm-bench-"))
    out = work / "tok"
    if not out.exists():
        tokenize_corpus([str(CORPUS)], out, TokenizeOptions(kind="char", val_fraction=0.1))
    return load_token_dir(out)


def full_val_loss(model: Transformer, data: TokenData) -> float:
    """Mean causal CE over all non-overlapping windows of the val split (nats per token)."""
    windows = fixed_windows(data.val, model.config.block_size + 1, 10**9)
    return evaluate(model, windows, pick_runtime(torch.device("cpu")), 1.0)["val_loss"]


def masked_val_acc(model: Transformer, data: TokenData) -> tuple[float, float]:
    """(masked CE, top-1) at fixed-seed 15 % masks over all val windows."""
    windows = fixed_windows(data.val, model.config.block_size, 10**9)
    m = evaluate(model, windows, pick_runtime(torch.device("cpu")), 1.0)
    return m["val_loss"], m["val_acc"]


def timed_run(
    cfg: ModelConfig,
    tcfg: TrainConfig,
    data: TokenData,
    budget: float,
    checkpoints: list[float],
    metric: Callable[[Transformer], float],
    stop_below: float | None = None,
    seed: int = 0,
    build: Callable[[ModelConfig], Transformer] = Transformer,
    trainer: type[Trainer] = Trainer,
) -> dict:
    """Train with tinylm's own step for `budget` s of training time; measure at `checkpoints`.

    `build` makes the model from `cfg`: tinylm's Transformer, or an arch_variants.build variant;
    `trainer` may be a Trainer subclass with another objective (bench/blanks_bench.py).
    """
    torch.manual_seed(seed)
    model = build(cfg)
    work = Path(tempfile.mkdtemp(prefix="tinylm-run-"))
    runtime = pick_runtime(torch.device("cpu"))
    trainer = trainer(model, tcfg, data, runtime, work, lambda e: None)
    model.train()
    trained, step, seen = 0.0, 0, {}
    marks = sorted(checkpoints)
    while trained < budget:
        t0 = time.perf_counter()
        frac = trained / budget
        trainer.train_step(lr_factor(step, frac, tcfg.warmup, tcfg.lr_final), frac)
        trained += time.perf_counter() - t0
        step += 1
        while marks and trained >= marks[0]:
            seen[marks.pop(0)] = (metric(model), step)
            model.train()
            if stop_below is not None and seen[max(seen)][0] <= stop_below:
                return {"steps": step, "seconds": trained, "at": seen, "model": model}
    final = metric(model)
    seen[budget] = (final, step)
    return {"steps": step, "seconds": trained, "at": seen, "model": model}


def time_to_reach(
    cfg: ModelConfig,
    tcfg: TrainConfig,
    data: TokenData,
    target: float,
    budget: float,
    every: float = 1.5,
) -> tuple[float | None, float]:
    """Training seconds until the full val loss first reaches `target` (checked every `every` s)."""
    marks = [every * i for i in range(1, int(budget / every) + 1)]
    run = timed_run(cfg, tcfg, data, budget, marks, lambda m: full_val_loss(m, data), target)
    for t in sorted(run["at"]):
        if run["at"][t][0] <= target:
            return t, run["at"][t][0]
    return None, min(v for v, _ in run["at"].values())


def cpu_peak_flops(seconds: float = 3.0, n: int = 1024) -> float:
    """This CPU's fp32 matmul rate (FLOP/s) with the current threads, best of repeated runs."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    best = 0.0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        for _ in range(4):
            a @ b
        best = max(best, 4 * 2 * n**3 / (time.perf_counter() - t0))
    return best
