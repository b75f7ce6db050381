"""The body of `tinylm train` (CLI layer): a request -> a new or resumed run -> train -> render."""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.distributed as dist
from rich.console import Console

from tinylm.cli.render import TrainReporter, stderr_console, train_summary
from tinylm.cli.train_request import TrainRequest
from tinylm.data.corpus import bundled_corpus
from tinylm.data.tokenizer import file_sha256
from tinylm.data.tokens import TokenData, is_token_dir, load_token_dir
from tinylm.device import Runtime, pick_device, pick_runtime
from tinylm.errors import TinylmError
from tinylm.model import Transformer
from tinylm.train.config import TrainConfig
from tinylm.train.setup import (
    build_model_config,
    default_out,
    init_weights,
    load_data,
    load_resume,
    prepare_out,
    write_run_info,
)
from tinylm.train.trainer import Trainer


class StopFlag:
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


@dataclass(frozen=True)
class Session:
    """This process's part in a run: its rank, what it trains on, where it reports."""

    rank: int
    world: int
    runtime: Runtime
    why: str  # why this device: shown in the banner
    console: Console
    stop: StopFlag  # asked by the trainer each step; rank 0 installs the signal handlers
    quiet: bool


def run_training(request: TrainRequest) -> None:
    """Everything `tinylm train` does after option parsing."""
    rank, world, local_rank = _distributed()
    device, why = pick_device(request.device)
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", local_rank)
    runtime = pick_runtime(device, request.precision, request.compile)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if world > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    quiet = request.quiet or rank != 0
    session = Session(rank, world, runtime, why, stderr_console(), StopFlag(), quiet)
    try:
        _run(request, session)
    finally:
        if world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def _run(request: TrainRequest, s: Session) -> None:
    """Set up the run, train until the budget is spent or a stop is asked for, show the end."""
    trainer = _resume(request.resume, request.budget, s) if request.resume else _start(request, s)
    if not s.quiet:
        _banner(s, trainer, resumed=request.resume is not None)
    if s.rank == 0:
        s.stop.install()
    with TrainReporter(s.console, s.quiet) as reporter:
        trainer.report = reporter
        result = trainer.run()
    if s.quiet:
        return
    out = trainer.out
    train_summary(s.console, result, _last_eval(out), str(out), trainer.mcfg.objective)
    if result["reason"] == "stopped":
        s.console.print(f"Stopped early; continue with: tinylm train --resume {out}")
    if request.sample:
        _show_sample(s.console, trainer)


def _trainer(
    model: Transformer, cfg: TrainConfig, data: TokenData, out: Path, s: Session
) -> Trainer:
    torch.manual_seed(cfg.seed)  # dropout draws start from the run's seed
    return Trainer(model, cfg, data, s.runtime, out, lambda e: None, s.stop, s.rank, s.world)


def _resume(out: Path, budget: dict, s: Session) -> Trainer:
    """Continue the run in `out` exactly, on the data it was trained on."""
    resumed = load_resume(out, budget)
    data = load_token_dir(resumed.data_dir)
    if file_sha256(data.tokenizer_path) != file_sha256(out / "last" / "tokenizer.json"):
        raise TinylmError(
            f"--resume {out}: the data at {resumed.data_dir} now has another tokenizer "
            "than the checkpoint; the run cannot continue on it."
        )
    trainer = _trainer(resumed.model, resumed.train_config, data, out, s)
    trainer.load_state(resumed.state, resumed.optimizer)
    return trainer


def _start(request: TrainRequest, s: Session) -> Trainer:
    """A new run: its directory, data, model and trainer; a run that never starts leaves none."""
    out = run_dir = None
    if s.rank == 0:
        out = request.out or default_out(request.objective)
        inputs = (request.data or bundled_corpus(), request.init_from)
        run_dir = prepare_out(out, request.force, inputs)  # a replaced run is only set aside
    out = _share_path(out, s.world)
    try:
        data = _new_data(request, out, s)
        mcfg = build_model_config(data.vocab_size, request.objective, request.size, request.shape)
        torch.manual_seed(request.train.seed)
        model = Transformer(mcfg)
        if request.init_from:
            init_weights(model, request.init_from, data)
        trainer = _trainer(model, request.train, data, out, s)  # checks that the data fits
        if s.rank == 0:
            write_run_info(out, _run_info(request, trainer, s))
            run_dir.commit()  # set up: the run it replaces (--force) can go now
    except BaseException:
        if s.rank == 0:
            run_dir.abandon()  # and the replaced run comes back
        raise
    return trainer


def _share_path(path: Path | None, world: int) -> Path | None:
    """Rank 0's choice of run directory, given to every rank."""
    if world == 1:
        return path
    box = [str(path) if path is not None else None]
    dist.broadcast_object_list(box, src=0)
    return Path(box[0]) if box[0] is not None else None


def _new_data(request: TrainRequest, out: Path, s: Session) -> TokenData:
    """Rank 0 tokenizes raw text (or the bundled corpus) into the run; the others open it."""
    data = request.data
    if s.rank == 0:
        default = bundled_corpus() if data is None else None
        token_data = load_data(data, out, request.tokenize, default_corpus=default)
    if s.world > 1:
        dist.barrier()
    if s.rank != 0:
        given = Path(data) if data is not None else None
        token_data = load_token_dir(given if given and is_token_dir(given) else out / "data")
    return token_data


def _run_info(request: TrainRequest, trainer: Trainer, s: Session) -> dict:
    """run.json: the resolved configuration, for people and for --resume."""
    return {
        "data": str(trainer.data.root.resolve()),
        "model": trainer.mcfg.to_dict(),
        "train": trainer.cfg.to_dict(),
        "device": str(s.runtime.device),
        "precision": s.runtime.precision,
        "compile": s.runtime.compile,
        "world_size": s.world,
        "init_from": str(request.init_from) if request.init_from else None,
    }


def _last_eval(out: Path) -> dict:
    last = {}
    with open(out / "metrics.jsonl", encoding="utf-8") as f:
        for line in f:
            event = json.loads(line)
            if event["event"] == "eval":
                last = event
    return last


def _banner(s: Session, trainer: Trainer, resumed: bool) -> None:
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
        f"[bold]tinylm train[/]{' (resumed)' if resumed else ''}: {m.objective} model, "
        f"{n / 1e6:.2f} M parameters ({m.n_layer} layers, {m.n_head} heads, width {m.d_model}, "
        f"context {m.block_size})\n"
        f"device {runtime.describe()} ({s.why}), precision {runtime.precision}, "
        f"compile {'on' if runtime.compile else 'off'}, {torch.get_num_threads()} CPU threads"
        f"{f', {s.world} processes' if s.world > 1 else ''}\n"
        f"data {data.root}: {len(data.train):,} train / {len(data.val):,} val tokens, "
        f"{data.meta['tokenizer']['kind']} vocab {data.vocab_size:,}\n"
        f"{per_step:,} tokens/step (batch {cfg.batch_size}), optimizer {opt}; budget {budget}\n"
        f"run directory {trainer.out}",
        soft_wrap=True,
    )


def _show_sample(console: Console, trainer: Trainer) -> None:
    """A short generation (causal) or a val passage with blanks filled in (masked)."""
    from tokenizers import Tokenizer

    from tinylm.data.vocab import MASK_ID
    from tinylm.infer.config import PREVIEW
    from tinylm.infer.sampling import fill_masks, generate
    from tinylm.metrics import fixed_masks

    data = trainer.data
    tok = Tokenizer.from_file(str(data.tokenizer_path))
    model = trainer.model.eval()
    if model.config.causal:
        g = torch.Generator().manual_seed(trainer.cfg.seed)
        ids = list(generate(model, [], replace(PREVIEW, max_new_tokens=120), g))
        console.rule(f"sample (temperature {PREVIEW.temperature:g}, top-k {PREVIEW.top_k})")
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
