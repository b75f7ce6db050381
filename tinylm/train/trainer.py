"""The training loop for both objectives. It reports through a callback and never prints."""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import torch
import torch.distributed as dist

from tinylm.atomic import append_line
from tinylm.checkpoint import save_checkpoint, unwrap
from tinylm.data.tokens import TokenData, fixed_windows, random_windows, shard
from tinylm.device import Runtime
from tinylm.errors import TinylmError, first_line
from tinylm.model import Transformer
from tinylm.train.config import CPU_SLICE_TOKENS, EVAL_SHARE, REPEAT_EPOCHS, TrainConfig
from tinylm.train.heap import steady_heap
from tinylm.train.objectives import Task, objective_task, row_slices, task_loss
from tinylm.train.optim import build_optimizers, lr_factor
from tinylm.train.progress import Progress, gen_state, set_gen_state
from tinylm.train.repeat import repeat_dropout
from tinylm.train.setup import check_fits
from tinylm.validate import evaluate

Report = Callable[[dict], None]


class Trainer:
    """Runs one training job: build the optimizer, loop until the budget is spent, save."""

    def __init__(
        self,
        model: Transformer,
        cfg: TrainConfig,
        data: TokenData,
        runtime: Runtime,
        out: Path,
        report: Report,
        should_stop: Callable[[], bool] = lambda: False,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        check_fits(model.config, data, world)  # the one check, whoever builds a Trainer
        self.cfg, self.data, self.runtime, self.out = cfg, data, runtime, out
        self.report, self.should_stop = report, should_stop
        self.rank, self.world = rank, world
        self.model = model.to(runtime.device)
        self.mcfg = model.config
        self.opt = build_optimizers(
            model,
            cfg.optimizer,
            cfg.lr,
            cfg.muon_lr,
            cfg.weight_decay,
            runtime.fused_adamw,
            runtime.orthogonalise_dtype,
        )
        self.net: torch.nn.Module = model
        if runtime.compile:
            self.net = torch.compile(self.net)
        if world > 1:
            ids = [runtime.device.index] if runtime.device.type == "cuda" else None
            self.net = torch.nn.parallel.DistributedDataParallel(self.net, device_ids=ids)
        self.scaler = torch.amp.GradScaler(enabled=runtime.precision == "fp16")
        # sampling draws come from explicit generators so a resumed run draws the same batches
        self.data_gen = torch.Generator().manual_seed(cfg.seed * 1000 + rank)
        self.mask_gen = torch.Generator().manual_seed(cfg.seed * 1000 + 500 + rank)
        self.train_data = shard(data.train, rank, world)
        self.window = self.mcfg.block_size + (1 if self.mcfg.causal else 0)
        self.val = fixed_windows(data.val, self.window, cfg.eval_windows)
        self.progress = Progress(next_eval=cfg.eval_seconds)
        self.evaluated_at = -1  # the step of the last evaluation
        self.dropout = self.mcfg.dropout  # the rate in force (_follow_repeats)
        self.clock: Callable[[], float] = time.perf_counter  # seconds; tests drive their own

    # -- state -------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            **asdict(self.progress),
            "best_val": None if math.isinf(self.progress.best_val) else self.progress.best_val,
            "rng": {
                "data": gen_state(self.data_gen),
                "mask": gen_state(self.mask_gen),
                "torch": gen_state(torch.default_generator),
            },
            "train_config": self.cfg.to_dict(),
        }

    def load_state(self, state: dict, optim: dict) -> None:
        """Continue from a saved trainer state and optimizer state."""
        try:
            self.progress = Progress(
                step=int(state["step"]),
                tokens=int(state["tokens"]),
                elapsed=float(state["elapsed"]),
                best_val=math.inf if state["best_val"] is None else float(state["best_val"]),
                last_val=state.get("last_val"),
                next_eval=float(state.get("next_eval", 0.0)),  # older states: due at once
            )
            set_gen_state(self.data_gen, state["rng"]["data"])
            set_gen_state(self.mask_gen, state["rng"]["mask"])
            set_gen_state(torch.default_generator, state["rng"]["torch"])
            self.opt.load_state_dict(optim)
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            raise TinylmError(
                f"the saved trainer or optimizer state does not fit this run ({first_line(e)}); "
                "start a new run with --init-from instead."
            ) from e

    def _diverged(self, what: str) -> None:
        kept = (
            f"the last good checkpoint is kept in {self.out / 'last'}"
            if (self.out / "last").is_dir()
            else "no checkpoint had been saved yet"
        )
        raise TinylmError(f"{what}; {kept}. Lower --lr or --muon-lr and start again.")

    def save(self, name: str) -> None:
        if self.rank != 0:
            return
        if not all(bool(p.isfinite().all()) for p in self.model.parameters()):
            self._diverged(f"the weights became non-finite by step {self.progress.step}")
        save_checkpoint(
            self.out / name,
            self.model,
            self.data.tokenizer_path,
            self.state_dict(),
            self.opt.state_dict() if name == "last" else None,
        )
        self.report({"event": "save", "step": self.progress.step, "checkpoint": name})

    def log(self, event: dict) -> None:
        """Append to metrics.jsonl and pass to the reporter (rank 0 only)."""
        if self.rank != 0:
            return
        append_line(self.out / "metrics.jsonl", json.dumps(event))
        self.report(event)

    # -- the loop ----------------------------------------------------------------------------
    def fraction_done(self) -> float:
        p, cfg = self.progress, self.cfg
        parts = [0.0]
        if cfg.time_limit:
            parts.append(p.elapsed / cfg.time_limit)
        if cfg.max_steps:
            parts.append(p.step / cfg.max_steps)
        if cfg.max_tokens:
            parts.append(p.tokens / cfg.max_tokens)
        return max(parts)

    def _agree(self, frac: float, stop: bool) -> tuple[float, bool]:
        """Ranks share one budget fraction and stop decision, so they never fall out of step."""
        if self.world == 1:
            return frac, stop
        t = torch.tensor([frac, float(stop)], device=self.runtime.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return float(t[0]), bool(t[1])

    def _task(self, batch: torch.Tensor) -> tuple[Task, int]:
        """What the objective asks of this batch, and the tokens it counts for."""
        batch = batch.to(self.runtime.device, non_blocking=True)
        return objective_task(self.mcfg, self.cfg.masking, batch, self.mask_gen)

    def _slices(self, rows: int) -> list[slice]:
        """The batch's rows in slices run one at a time (a CPU's memory); elsewhere in one."""
        if self.runtime.device.type != "cpu":
            return [slice(0, rows)]
        return row_slices(rows, self.window, CPU_SLICE_TOKENS)

    def _follow_repeats(self) -> None:
        """A causal model's dropout rises as its train split repeats (tinylm/train/repeat.py)."""
        if not (self.mcfg.causal and self.cfg.repeat_dropout):
            return
        epochs = self.progress.tokens / (len(self.train_data) * self.world)
        rate = repeat_dropout(epochs, self.mcfg.dropout, self.cfg.repeat_dropout, *REPEAT_EPOCHS)
        if rate != self.dropout:
            self.model.set_dropout(rate)
            self.dropout = rate

    def train_step(self, lr_scale: float, frac: float = 1.0) -> float:
        """One optimizer step at `lr_scale` of the peak rate, `frac` of the budget done."""
        cfg = self.cfg
        self._follow_repeats()
        self.opt.set_lr_factor(lr_scale)
        total = torch.zeros((), device=self.runtime.device)
        # fewer windows a step during the batch warm-up (the first batch_warmup of the budget)
        rows = cfg.warmup_batch_size if frac < cfg.batch_warmup else cfg.batch_size
        slices = self._slices(rows)
        for micro in range(cfg.grad_accum):
            batch = random_windows(self.train_data, rows, self.window, self.data_gen)
            task, ntok = self._task(batch)
            self.progress.tokens += ntok * self.world
            for part in slices:
                # DDP averages gradients once, after the step's last backward pass
                last = micro == cfg.grad_accum - 1 and part is slices[-1]
                with contextlib.nullcontext() if last or self.world == 1 else self.net.no_sync():
                    with self.runtime.autocast():
                        loss = task_loss(self.model, task.rows(part), self.net) / cfg.grad_accum
                    self.scaler.scale(loss).backward()
                total += loss.detach()
        total = total.item()  # one device sync a step, not one a pass
        if not math.isfinite(total):
            self._diverged(f"the loss became {total} at step {self.progress.step + 1}")
        self.opt.step_scaled(self.scaler, cfg.grad_clip, self.model.parameters())
        return total

    def run_eval(self, checkpoint: bool = True) -> dict:
        """Save last/ first (an eval that crashes loses nothing), evaluate, keep the best; the
        event carries the seconds it all took, and the next time-spaced eval is set from them."""
        p, t0 = self.progress, self.clock()
        if checkpoint:
            self.save("last")
        metrics = evaluate(unwrap(self.net), self.val, self.runtime, self.data.bytes_per_token)
        p.last_val, self.evaluated_at = metrics["val_loss"], p.step
        if metrics["val_loss"] < p.best_val:
            p.best_val = metrics["val_loss"]
            self.save("best")
        spent = self.clock() - t0
        p.next_eval = p.elapsed + max(self.cfg.eval_seconds, spent / EVAL_SHARE)
        self.log(
            {
                "event": "eval",
                "step": p.step,
                "tokens": p.tokens,
                "elapsed": round(p.elapsed, 3),
                "seconds": round(spent, 3),
                **metrics,
            }
        )
        return metrics

    def _eval_due(self) -> bool:
        """Every eval_every steps; with a time budget also once the clock reaches next_eval
        (rank 0's clock decides for all ranks)."""
        p, cfg = self.progress, self.cfg
        if p.step % cfg.eval_every == 0:
            return True
        if not (cfg.time_limit and cfg.eval_seconds):
            return False
        due = p.elapsed >= p.next_eval
        if self.world > 1:
            flag = torch.tensor([float(due)], device=self.runtime.device)
            dist.broadcast(flag, src=0)
            due = bool(flag[0])
        return due

    def run(self) -> dict:
        """Train until the budget is spent or a stop is asked for; always evaluate and save last/
        at the end. Evaluations count against a time budget."""
        with steady_heap():
            reason = self._loop()
            if self.evaluated_at != self.progress.step:
                self.run_eval(checkpoint=False)  # last/ is saved just after
            self.save("last")
        self.model.eval()
        return {"reason": reason, **asdict(self.progress)}

    def _loop(self) -> str:
        cfg, p = self.cfg, self.progress
        self.model.train()
        started = self.clock() - p.elapsed
        while True:
            frac, stop = self._agree(self.fraction_done(), self.should_stop())
            if stop or frac >= 1.0:
                return "stopped" if stop else "budget"
            t0 = self.clock()
            scale = lr_factor(p.step, frac, cfg.warmup, cfg.lr_final)
            loss = self.train_step(scale, frac)
            p.step += 1
            p.elapsed = self.clock() - started
            if p.step % cfg.log_every == 0 or p.step == 1:
                self._log_step(loss, scale, self.clock() - t0)
            if self._eval_due():
                self.run_eval()  # saves last/ first
                p.elapsed = self.clock() - started
            elif cfg.save_every and p.step % cfg.save_every == 0:
                self.save("last")

    def _log_step(self, loss: float, scale: float, seconds: float) -> None:
        p = self.progress
        self.log(
            {
                "event": "step",
                "step": p.step,
                "loss": loss,
                "lr_scale": round(scale, 5),
                "tokens": p.tokens,
                "elapsed": round(p.elapsed, 3),
                "step_seconds": round(seconds, 5),
                "fraction": round(min(self.fraction_done(), 1.0), 5),
                "dropout": self.dropout,
            }
        )
