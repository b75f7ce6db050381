"""Setting up a training run: size presets, budgets, the data, a new run or a resumed one."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from tinylm.atomic import check_out_clear, collect_stale, temp_name, write_atomic
from tinylm.checkpoint import (
    check_weights_fit,
    load_checkpoint,
    load_trainer_state,
    read_config,
)
from tinylm.data.apart import tokenize_apart
from tinylm.data.options import TokenizeOptions
from tinylm.data.tokens import TokenData, is_token_dir, load_token_dir
from tinylm.errors import TinylmError, UsageError, shorten
from tinylm.model import ModelConfig, Transformer
from tinylm.train.config import DROPOUT, SIZES, MaskingConfig, TrainConfig

if TYPE_CHECKING:
    from tinylm.data.prepare import Progress


def parse_duration(text: str) -> float:
    """'90s', '10m', '1h', '1h30m' or plain seconds -> seconds."""
    s = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", s):
        seconds = float(s)
    else:
        parts = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?", s)
        if not s or parts is None:
            raise UsageError(
                f"--time {text!r} is not a duration; write e.g. 90s, 10m, 1h or 1h30m."
            )
        h, m, sec = (float(x) if x else 0.0 for x in parts.groups())
        seconds = h * 3600 + m * 60 + sec
    if not math.isfinite(seconds):  # float() of 400 digits is inf: a budget that never ends
        raise UsageError(f"--time {shorten(text, 40)!r} is not a finite duration.")
    if seconds <= 0:
        raise UsageError(f"--time {text!r} must be longer than zero.")
    return seconds


def default_out(objective: str) -> Path:
    """runs/<objective>-<timestamp>."""
    return Path("runs") / f"{objective}-{time.strftime('%Y%m%d-%H%M%S')}"


@dataclass
class RunDir:
    """A new run's directory. With --force, the run it replaces is set aside, not deleted: it is
    removed by `commit` once the new run has saved a checkpoint, and put back by `abandon`."""

    path: Path
    replaced: Path | None = None  # the old run, set aside until this one is set up
    existed: bool = False  # an empty directory the user made: emptied, not removed, on abandon

    def commit(self) -> None:
        """The new run is set up: the old one can go."""
        if self.replaced is not None:
            shutil.rmtree(self.replaced, ignore_errors=True)
            self.replaced = None

    def abandon(self) -> None:
        """The new run never started: remove what it made and put the old run back."""
        if self.existed:
            for child in list(self.path.iterdir()) if self.path.is_dir() else []:
                _remove(child)
        else:
            shutil.rmtree(self.path, ignore_errors=True)
        if self.replaced is not None:
            os.replace(self.replaced, self.path)
            self.replaced = None


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        p.unlink(missing_ok=True)


def prepare_out(out: Path, force: bool, inputs: Iterable[Path | str | None] = ()) -> RunDir:
    """Create the run directory; an existing non-empty one needs --force (or --resume), and an
    --out that is or holds one of the run's `inputs` (or the working directory) is refused."""
    check_out_clear(out, inputs)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} exists and is not a directory; choose another --out.")
    collect_stale(Path(os.path.abspath(out)).parent, out.name)
    run = RunDir(out)
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise UsageError(
                f"run directory {out} already exists; use --resume {out} to continue it, "
                "--force to replace it, or another --out."
            )
        run.replaced = out.with_name(temp_name(out.name, "old"))
        os.replace(out, run.replaced)
    run.existed = out.is_dir()
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        run.abandon()
        raise TinylmError(f"cannot write to run directory {out}: {e.strerror}.") from e
    return run


def check_data_exists(data: str | None) -> None:
    """A DATA argument that names nothing is a usage error (None: the bundled corpus)."""
    if data is not None and not Path(data).exists():
        raise UsageError(f"DATA {data!r} does not exist; give a `tinylm tokenize` output or text.")


def load_data(
    data: str | None,
    out: Path,
    tokenize: TokenizeOptions,
    default_corpus: Path | None = None,
    progress: Progress | None = None,
) -> TokenData:
    """A token directory as is; raw text (or the bundled corpus) tokenized into out/data."""
    if data is not None and is_token_dir(Path(data)):
        return load_token_dir(Path(data))
    check_data_exists(data)
    inputs = [data] if data is not None else [str(default_corpus)]
    tokenize_apart(inputs, out / "data", tokenize, progress)
    return load_token_dir(out / "data")


def build_model_config(
    vocab_size: int, objective: str, size: str, overrides: dict[str, int | float]
) -> ModelConfig:
    """A size preset with explicit overrides; bad shapes become one clear usage error."""
    fields = {**SIZES[size], "dropout": DROPOUT, **overrides}
    try:
        return ModelConfig(vocab_size=vocab_size, objective=objective, **fields)
    except ValueError as e:
        raise UsageError(f"impossible model shape: {e}.") from e


def check_fits(cfg: ModelConfig, data: TokenData, world: int = 1) -> None:
    """The data must suit the model: the same vocabulary, and room for one window in the val
    split and in each process's share of the train split."""
    if cfg.vocab_size != data.vocab_size:
        raise TinylmError(
            f"the model has a vocabulary of {cfg.vocab_size} but the data's tokenizer has "
            f"{data.vocab_size}; use data made with the model's tokenizer."
        )
    need = cfg.block_size + 1
    each = " per process" if world > 1 else ""
    for name, n, per in (("train", len(data.train) // world, each), ("val", len(data.val), "")):
        if n < need:
            raise UsageError(
                f"--block-size {cfg.block_size} is larger than the {name} split "
                f"({n} tokens{per}); lower --block-size or add text."
            )


@dataclass
class Resumed:
    """What a resumed run continues from."""

    model: Transformer
    train_config: TrainConfig
    state: dict
    optimizer: dict
    data_dir: Path
    info: dict  # run.json as it was


def write_run_info(out: Path, info: dict) -> None:
    """The resolved configuration of a run, for people and for --resume."""
    write_atomic(out / "run.json", json.dumps(info, indent=2) + "\n")


def resume_records(run: Path, info: dict, step: int) -> None:
    """A resumed run's records: run.json with what it now does (`info`), and metrics.jsonl
    without the events past its checkpoint's `step`, which the resumed run logs again (a kill
    after the last save left them, or a torn last line)."""
    write_run_info(run, info)
    path = run / "metrics.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    kept = [line for line in lines if _step_of(line) <= step]
    if len(kept) < len(lines):
        write_atomic(path, "".join(line + "\n" for line in kept))


def _step_of(line: str) -> float:
    """The step of one metrics.jsonl event; infinity for a line that is not one."""
    try:
        return float(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return math.inf


def load_resume(
    run: Path, budget: dict[str, float | int], cadence: dict[str, float] | None = None
) -> Resumed:
    """Open RUN/last to continue it; an explicit budget replaces the saved one (all its limits:
    a run of --max-steps 30 resumed with --time 10m trains for the time), as does an explicit
    eval or save cadence."""
    last = run / "last"
    collect_stale(run)  # first: a swap killed between its renames left last/ set aside
    if not (run / "run.json").is_file() or not last.is_dir():
        raise TinylmError(f"--resume {run}: not a tinylm run directory (no run.json or last/).")
    try:
        info = json.loads((run / "run.json").read_text(encoding="utf-8"))
        data_dir = Path(info["data"])
    except (ValueError, KeyError, TypeError) as e:
        raise TinylmError(f"--resume {run}: run.json is corrupt ({e}).") from e
    ckpt = load_checkpoint(last)
    state, optim = load_trainer_state(last)
    try:
        tc = dict(state["train_config"])
        tc["masking"] = MaskingConfig(**tc["masking"])
        if budget:
            tc.update({"time_limit": None, "max_steps": None, "max_tokens": None, **budget})
        tc.update(cadence or {})
        cfg = TrainConfig(**tc)
    except (KeyError, TypeError, ValueError) as e:
        raise TinylmError(f"--resume {run}: trainer_state.json is corrupt ({e}).") from e
    return Resumed(ckpt.model, cfg, state, optim, data_dir, info)


def init_weights(model: Transformer, ckpt_path: Path, data: TokenData) -> None:
    """Copy weights from a checkpoint into a new model of the same shape and tokenizer."""
    path = ckpt_path / "best" if (ckpt_path / "best").is_dir() else ckpt_path
    src_cfg = read_config(path)
    check_weights_fit(path, src_cfg)  # a config that lies about its weights is corrupt, not a
    # shape mismatch the user could fix with options
    if replace(src_cfg, dropout=model.config.dropout) != model.config:
        raise UsageError(
            f"--init-from {ckpt_path}: its architecture differs from this run's "
            "(use the same --size and shape options)."
        )
    if (path / "tokenizer.json").read_bytes() != data.tokenizer_path.read_bytes():
        raise TinylmError(
            f"--init-from {ckpt_path}: it was trained with another tokenizer than this data's."
        )
    model.load_state_dict(load_checkpoint(path).model.state_dict())
