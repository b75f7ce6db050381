"""What `tinylm train` shows on stderr besides progress: the banner and the closing sample."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import torch
from rich.console import Console

from tinylm.train.config import REPEAT_EPOCHS, TrainConfig
from tinylm.train.trainer import Trainer

if TYPE_CHECKING:  # train_run imports this module
    from tinylm.cli.train_run import Session


def banner(s: Session, trainer: Trainer, resumed: bool) -> None:
    """Who trains what, where, on which data, with which budget."""
    m, cfg, data, runtime = trainer.mcfg, trainer.cfg, trainer.data, s.runtime
    n = trainer.model.num_params()
    budget = ", ".join(
        f"{k} {v}"
        for k, v in (
            ("time", f"{cfg.time_limit:g}s" if cfg.time_limit else None),
            ("steps", cfg.max_steps),
            ("tokens", cfg.max_tokens),
        )
        if v
    )
    per_step = cfg.batch_size * m.block_size * cfg.grad_accum * s.world
    opt = (
        f"muon (lr {cfg.muon_lr:g}) + adamw (lr {cfg.lr:g})"
        if cfg.optimizer == "muon"
        else f"adamw (lr {cfg.lr:g})"
    )
    s.console.print(
        f"[bold]tinylm train[/]{' (resumed)' if resumed else ''}: {m.objective} model"
        f"{f' ({cfg.masking.rate:.0%} hidden)' if m.objective == 'masked' else ''}, "
        f"{n / 1e6:.2f} M parameters ({m.n_layer} layers, {m.n_head} heads, width {m.d_model}, "
        f"context {m.block_size})\n"
        f"device {runtime.describe()} ({s.why}), precision {runtime.precision}, "
        f"compile {'on' if runtime.compile else 'off'}, {torch.get_num_threads()} CPU threads"
        f"{f', {s.world} processes' if s.world > 1 else ''}\n"
        f"data {data.root}: {len(data.train):,} train / {len(data.val):,} val tokens, "
        f"{data.meta['tokenizer']['kind']} vocab {data.vocab_size:,}\n"
        f"{per_step:,} tokens/step (batch {cfg.batch_size}{_batch_warmup(cfg)}), optimizer {opt}; "
        f"budget {budget}; "
        f"{_eval_schedule(cfg)}{_dropout(m.causal, m.dropout, cfg)}\n"
        f"run directory {trainer.out}",
        soft_wrap=True,
    )


def _batch_warmup(cfg: TrainConfig) -> str:
    """', 16 for the first 20 %' while the batch warms up."""
    if not cfg.batch_warmup:
        return ""
    return f", {cfg.warmup_batch_size} for the first {cfg.batch_warmup:.0%}"


def _eval_schedule(cfg: TrainConfig) -> str:
    """'eval every 250 steps or 20 s': the seconds only where the budget has a time limit."""
    timed = cfg.time_limit and cfg.eval_seconds
    return f"eval every {cfg.eval_every} steps" + (f" or {cfg.eval_seconds:g} s" if timed else "")


def _dropout(causal: bool, base: float, cfg: TrainConfig) -> str:
    """'; dropout 0, rising to 0.2 as the data repeats (6 to 14 epochs)' for a causal run."""
    if not (causal and cfg.repeat_dropout > base):
        return f"; dropout {base:g}" if base else ""
    start, end = REPEAT_EPOCHS
    return (
        f"; dropout {base:g}, rising to {cfg.repeat_dropout:g} as the data repeats "
        f"({start:g} to {end:g} epochs)"
    )


def show_sample(console: Console, trainer: Trainer) -> None:
    """A short generation (causal, diffusion) or a val passage with blanks filled in (masked)."""
    from tokenizers import Tokenizer

    from tinylm.data.vocab import MASK_ID
    from tinylm.infer.config import PREVIEW
    from tinylm.infer.sampling import fill_masks, generate
    from tinylm.infer.unmask import UnmaskConfig, unmask_generate
    from tinylm.metrics import fixed_masks

    data = trainer.data
    tok = Tokenizer.from_file(str(data.tokenizer_path))
    model = trainer.model.eval()
    if model.config.objective in ("causal", "diffusion"):  # the families that generate
        g = torch.Generator().manual_seed(trainer.cfg.seed)
        cfg = replace(PREVIEW, max_new_tokens=120)
        if model.config.causal:
            ids = list(generate(model, [], cfg, g))
            how = ""
        else:
            ids = list(unmask_generate(model, [], cfg, UnmaskConfig(), g))
            how = ", by iterative unmasking"
        console.rule(f"sample (temperature {PREVIEW.temperature:g}, top-k {PREVIEW.top_k}{how})")
        console.print(tok.decode(ids), markup=False)
        return
    window = trainer.val[0][: model.config.block_size]
    masked, _ = fixed_masks(window[None], rate=0.15)
    ids = masked[0].tolist()
    filled = fill_masks(model, ids)
    shown = [
        f"[{tok.decode([f])}]" if i == MASK_ID else tok.decode([t])
        for i, t, f in zip(ids, window.tolist(), filled, strict=True)
    ]
    console.rule("a val passage with 15 % of tokens hidden, filled in \\[like this]")
    joined = (
        "".join(shown)
        if data.meta["tokenizer"]["kind"] in ("char", "byte", "bpe")
        else " ".join(shown)
    )
    console.print(joined, markup=False)
