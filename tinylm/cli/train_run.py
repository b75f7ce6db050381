"""The body of `tinylm train` (CLI layer): a request -> a new or resumed run -> train -> render."""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from rich.console import Console

from tinylm.cli.render import ByteProgress, TrainReporter, stderr_console, train_summary
from tinylm.cli.train_request import TrainRequest
from tinylm.cli.train_show import banner, show_sample
from tinylm.data.corpus import bundled_corpus
from tinylm.data.tokenizer import file_sha256
from tinylm.data.tokens import TokenData, is_token_dir, load_token_dir
from tinylm.device import Runtime, pick_device, pick_runtime
from tinylm.errors import TinylmError
from tinylm.model import Transformer
from tinylm.train.config import TrainConfig
from tinylm.train.setup import (
    RunDir,
    build_model_config,
    default_out,
    init_weights,
    load_data,
    load_resume,
    prepare_out,
    resume_records,
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
    if request.resume:
        trainer, run_dir = _resume(request, s), None
        if trainer is None:
            return  # its budget was already spent: nothing to do, nothing written
    else:
        trainer, run_dir = _start(request, s)
    try:
        result = _train(trainer, s, run_dir, resumed=request.resume is not None)
    except BaseException:
        # a new run that fails (diverges, is killed by a second Ctrl-C...) before its first
        # checkpoint has nothing to resume: it leaves no directory, and --force's old run is back
        if run_dir is not None and not (trainer.out / "last").is_dir():
            run_dir.abandon()
        raise
    if s.quiet:
        return
    out = trainer.out
    train_summary(s.console, result, _last_eval(out), str(out), trainer.mcfg.objective)
    if result["reason"] == "stopped":
        s.console.print(f"Stopped early; continue with: tinylm train --resume {out}")
    if request.sample:
        show_sample(s.console, trainer)


def _train(trainer: Trainer, s: Session, run_dir: RunDir | None, resumed: bool) -> dict:
    """Show the banner and train; a new run's first checkpoint commits its directory."""
    if not s.quiet:
        banner(s, trainer, resumed)
    if s.rank == 0:
        s.stop.install()
    with TrainReporter(s.console, s.quiet) as reporter:
        commit = run_dir.commit if run_dir is not None else lambda: None

        def report(event: dict) -> None:
            if event["event"] == "save":
                commit()  # the new run can be resumed: the run it replaces (--force) can go
            reporter(event)

        trainer.report = report
        return trainer.run()


def _trainer(
    model: Transformer, cfg: TrainConfig, data: TokenData, out: Path, s: Session
) -> Trainer:
    torch.manual_seed(cfg.seed)  # dropout draws start from the run's seed
    return Trainer(model, cfg, data, s.runtime, out, lambda e: None, s.stop, s.rank, s.world)


def _resume(request: TrainRequest, s: Session) -> Trainer | None:
    """Continue the run exactly, on the data it was trained on; None (and a note) when its
    budget is already spent. Its records say what the resumed run does."""
    out = request.resume
    resumed = load_resume(out, request.budget, request.cadence)
    data = load_token_dir(resumed.data_dir)
    if file_sha256(data.tokenizer_path) != file_sha256(out / "last" / "tokenizer.json"):
        raise TinylmError(
            f"--resume {out}: the data at {resumed.data_dir} now has another tokenizer "
            "than the checkpoint; the run cannot continue on it."
        )
    trainer = _trainer(resumed.model, resumed.train_config, data, out, s)
    trainer.load_state(resumed.state, resumed.optimizer)
    if trainer.fraction_done() >= 1.0:
        if s.rank == 0:
            s.console.print(
                f"{out} has already spent its budget ({_spent(trainer)}); nothing to do. "
                "To train on, give a larger --time, --max-steps or --max-tokens.",
                markup=False,
                soft_wrap=True,
            )
        return None
    if s.rank == 0:
        info = {**resumed.info, **_runtime_info(trainer, s)}
        resume_records(out, info, trainer.progress.step)
    return trainer


def _spent(trainer: Trainer) -> str:
    """Which limits of the budget the run has reached: 'step 30 of --max-steps 30'."""
    p, cfg = trainer.progress, trainer.cfg
    reached = []
    if cfg.max_steps and p.step >= cfg.max_steps:
        reached.append(f"step {p.step} of --max-steps {cfg.max_steps}")
    if cfg.max_tokens and p.tokens >= cfg.max_tokens:
        reached.append(f"{p.tokens:,} tokens of --max-tokens {cfg.max_tokens:,}")
    if cfg.time_limit and p.elapsed >= cfg.time_limit:
        reached.append(f"{p.elapsed:.0f}s of --time {cfg.time_limit:g}s")
    return "; ".join(reached)


def _start(request: TrainRequest, s: Session) -> tuple[Trainer, RunDir | None]:
    """A new run: its trainer, and (rank 0) its directory, committed at the first checkpoint; a
    run that never starts leaves none."""
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
    except BaseException:
        if s.rank == 0:
            run_dir.abandon()  # and the replaced run comes back
        raise
    return trainer, run_dir


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
        progress = ByteProgress(s.quiet)
        try:
            token_data = load_data(data, out, request.tokenize, default, progress)
        finally:
            progress.close()
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
        **_runtime_info(trainer, s),
        "init_from": str(request.init_from) if request.init_from else None,
    }


def _runtime_info(trainer: Trainer, s: Session) -> dict:
    """The part of run.json a resume may change: the budget and cadence, where it runs."""
    return {
        "train": trainer.cfg.to_dict(),
        "device": str(s.runtime.device),
        "precision": s.runtime.precision,
        "compile": s.runtime.compile,
        "world_size": s.world,
    }


def _last_eval(out: Path) -> dict:
    last = {}
    with open(out / "metrics.jsonl", encoding="utf-8") as f:
        for line in f:
            event = json.loads(line)
            if event["event"] == "eval":
                last = event
    return last
