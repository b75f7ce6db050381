"""Hostile training (issue 10: defects 6, 10 and the file modes of 11), one row per case.

Each row runs one command in tmp_path and asserts the exit code, one line on stderr (after
click's usage lines, for an option it refuses) with no traceback, and the files left behind as a
snapshot of the tree before and after: a refused or failed new run leaves no directory, a
refused or spent resume leaves run.json and metrics.jsonl byte for byte, a resume that trains
records its new budget and never logs an event twice.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from conftest import SAMPLE, TINY_TRAIN, run_cli
from hostile_setups import Fixtures, old_run, snapshot, tokens

from tinylm.cli import cli
from tinylm.cli.train import RESUMABLE

TRAIN = (*TINY_TRAIN, "--max-steps", "3", "-q")
Snapshot = dict[str, bytes | None]
Check = Callable[[Snapshot, Snapshot], None]  # (before, after)
Patch = Callable[[pytest.MonkeyPatch], None]


def unchanged(before: Snapshot, after: Snapshot) -> None:
    assert after == before


@dataclass(frozen=True)
class Row:
    id: str
    setup: Callable[[Fixtures], list[str]]  # builds files under the cwd; returns the arguments
    code: int
    needle: str
    left: Check = unchanged
    patch: Patch | None = None
    one_line: bool = True  # False: a run that reports progress


# -- 6: every float option of every command refuses nan and inf before anything happens --------
def float_options() -> list[tuple[str, str]]:
    """(command, flag) of every option whose value is a float, read from the CLI itself."""
    return [
        (name, next(o for o in p.opts if o.startswith("--")))
        for name, command in sorted(cli.commands.items())
        for p in command.params
        if isinstance(p, click.Option) and "float" in p.type.name
    ]


def options(command: str, *args: str) -> Callable[[Fixtures], list[str]]:
    # a train the option failed to stop would be short, and write ./r
    extra = ("--out", "r", *TRAIN) if command == "train" else ()
    return lambda fx: [command, *args, *extra]


NON_FINITE = [
    Row(f"{cmd} {flag} {value}", options(cmd, flag, value), 2, f"'{flag}'")
    for cmd, flag in float_options()
    for value in ("nan", "inf", "-inf")
] + [
    Row("train --time of 400 digits (float() makes it inf)", options("train", "--time", "9" * 400),
        2, "--time '99999"),
    Row("train --time nan", options("train", "--time", "nan"), 2, "is not a duration"),
    Row("train --mask-replace nan,0,0", options("train", "--mask-replace", "nan,0,0"), 2,
        "must be three shares"),
]  # fmt: skip


# -- 6: a new run that fails before its first checkpoint leaves no directory ---------------------
def new_run(*args: str) -> Callable[[Fixtures], list[str]]:
    return lambda fx: ["train", tokens(fx), "--out", "r", *args, *TRAIN]


def at_step(n: int, fail: Callable[[], None]) -> Patch:
    """Call `fail` as step `n` begins (raise, or send a signal)."""

    def patch(mp: pytest.MonkeyPatch) -> None:
        from tinylm.train.trainer import Trainer

        original = Trainer.train_step

        def step(self: Trainer, scale: float, frac: float = 1.0) -> float:
            if self.progress.step + 1 == n:
                fail()
            return original(self, scale, frac)

        mp.setattr(Trainer, "train_step", step)

    return patch


def raise_(e: BaseException) -> Callable[[], None]:
    def fail() -> None:
        raise e

    return fail


def saved_and_stopped(before: Snapshot, after: Snapshot) -> None:
    assert "r/last/model.safetensors" in after and "r/run.json" in after


FAILED_RUNS = [
    Row("the loss becomes nan at step 2 (--lr and --muon-lr 1e30)",
        new_run("--lr", "1e30", "--muon-lr", "1e30"), 1, "the loss became nan at step 2"),
    Row("the loss becomes nan at step 2 (adamw, --lr 1e30)",
        new_run("--optimizer", "adamw", "--lr", "1e30"), 1, "the loss became nan at step 2"),
    Row("--force over an old run, then divergence: the old run stays",
        lambda fx: ["train", tokens(fx), "--out", old_run(fx), "--force", "--lr", "1e30",
                    "--muon-lr", "1e30", *TRAIN], 1, "no checkpoint had been saved yet"),
    Row("a disk error in the first step", new_run(), 1, "Input/output error",
        patch=at_step(1, raise_(OSError(errno.EIO, os.strerror(errno.EIO))))),
    Row("a second Ctrl-C in the second step", new_run(), 130, "Interrupted.",
        patch=at_step(2, raise_(KeyboardInterrupt()))),
    # one Ctrl-C saves (before the first checkpoint too) and says how to go on
    Row("one Ctrl-C in the first step", lambda fx: new_run()(fx)[:-1], 0,
        "Stopped early; continue with: tinylm train --resume r", saved_and_stopped,
        patch=at_step(1, lambda: os.kill(os.getpid(), signal.SIGINT)), one_line=False),
]  # fmt: skip


# -- 10: a resume refuses what it cannot apply, updates what it can, never logs twice -----------
# a value for every option the run fixed when it began (all but RESUMABLE)
FIXED = {
    "DATA": "tok", "--objective": "masked", "--size": "small", "--n-layer": "2",
    "--n-head": "2", "--d-model": "32", "--block-size": "8", "--dropout": "0.1",
    "--batch-size": "8", "--grad-accum": "2", "--optimizer": "adamw", "--lr": "0.01",
    "--muon-lr": "0.01", "--warmup": "5", "--weight-decay": "0.1", "--repeat-dropout": "0.3",
    "--batch-warmup": "0.1", "--mask-rate": "0.2", "--mask-replace": "1,0,0", "--seed": "7",
    "--kind": "byte", "--vocab-size": "300",
    "--out": "elsewhere", "--force": "", "--init-from": "run", "--errors": "replace",
}  # fmt: skip


def resume(*args: str, change: Callable[[Path], None] = lambda run: None) -> Callable:
    """A copy of the session's causal run (step 3 of --max-steps 3, evals at 2 and 3) at ./run,
    changed by `change`, resumed with `args`."""

    def setup(fx: Fixtures) -> list[str]:
        shutil.copytree(fx.run(), "run")
        shutil.copytree(fx.token_dir(), "tok")
        change(Path("run"))
        return ["train", "--resume", "run", *args]

    return setup


def with_fixed(flag: str) -> tuple[str, ...]:
    value = FIXED[flag]
    return (value,) if flag == "DATA" else (flag, value) if value else (flag,)


def resumed(evals: list[int], **train: object) -> Check:
    """run.json holds the new budget; metrics.jsonl has each event once, and these evals."""

    def check(before: Snapshot, after: Snapshot) -> None:
        info = json.loads(after["run/run.json"])
        assert {k: info["train"][k] for k in train} == train
        events = [json.loads(x) for x in after["run/metrics.jsonl"].decode().splitlines()]
        keys = [(e["event"], e["step"]) for e in events]
        assert len(keys) == len(set(keys)), keys
        assert [e["step"] for e in events if e["event"] == "eval"] == evals
        assert not any(e.get("lost") for e in events)

    return check


def killed_after_last_save(run: Path) -> None:
    """What a kill -9 leaves: events logged after the last checkpoint, and a torn last line."""
    with open(run / "metrics.jsonl", "a", encoding="utf-8") as f:
        for event in ("step", "eval"):
            f.write(json.dumps({"event": event, "step": 4, "lost": True}) + "\n")
        f.write('{"event": "st')


SPENT = "has already spent its budget"
RESUMES = [
    Row(f"--resume with {flag}", resume(*with_fixed(flag)), 2,
        "do not mix" if flag == "--init-from" else f"drop {flag}")
    for flag in FIXED
] + [
    Row("--resume of a run whose budget is spent", resume("-q"), 0,
        f"{SPENT} (step 3 of --max-steps 3); nothing to do"),
    Row("--resume with a smaller --max-steps", resume("--max-steps", "2"), 0,
        f"{SPENT} (step 3 of --max-steps 2)"),
    Row("--resume with a spent --max-tokens", resume("--max-tokens", "64"), 0,
        f"{SPENT} (192 tokens of --max-tokens 64)"),
    Row("--resume with a spent --time", resume("--time", "0.001"), 0, f"{SPENT} ("),
    Row("--resume with every other option a resume may change, budget spent",
        resume("--max-steps", "3", "--eval-every", "1", "--save-every", "1", "--device", "cpu",
               "--precision", "fp32", "--no-compile", "--no-sample", "--quiet"), 0, SPENT),
    Row("--resume with a larger --max-steps", resume("--max-steps", "5", "-q"), 0, "",
        resumed([2, 3, 4, 5], max_steps=5, max_tokens=None), one_line=False),
    Row("--resume with --max-tokens replaces the whole budget",
        resume("--max-tokens", "320", "-q"), 0, "",
        resumed([2, 3, 4, 5], max_steps=None, max_tokens=320), one_line=False),
    Row("--resume with --eval-every and --save-every",
        resume("--max-steps", "4", "--eval-every", "1", "--save-every", "1", "-q"), 0, "",
        resumed([2, 3, 4], max_steps=4, eval_every=1, save_every=1), one_line=False),
    Row("--resume after a kill that left events past the checkpoint",
        resume("--max-steps", "4", "-q", change=killed_after_last_save), 0, "",
        resumed([2, 3, 4], max_steps=4), one_line=False),
]  # fmt: skip
ROWS = NON_FINITE + FAILED_RUNS + RESUMES


@pytest.fixture
def signals() -> Iterator[None]:
    """Put back the SIGINT and SIGTERM handlers a training run installs."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_row(
    row: Row,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    signals: None,
) -> None:
    monkeypatch.chdir(tmp_path)
    args = row.setup(Fixtures(request))
    if row.patch is not None:
        row.patch(monkeypatch)
    before = snapshot(tmp_path)
    r = run_cli(*args)
    after = snapshot(tmp_path)
    assert r.exit_code == row.code, r.output
    assert "Traceback" not in r.output and isinstance(r.exception, (SystemExit, type(None)))
    lines = r.stderr.strip().splitlines()
    if lines and lines[0].startswith("Usage:"):  # click refused an option: usage, hint, error
        lines = lines[-1:]
    if row.one_line:
        assert len(lines) == 1, r.stderr
    assert row.needle in r.stderr, r.stderr
    row.left(before, after)


def test_every_train_option_is_fixed_or_resumable() -> None:
    """A new option of `tinylm train` must say whether a resume may change it."""
    train = cli.commands["train"]
    flags = {p.human_readable_name if isinstance(p, click.Argument) else p.opts[-1]
             for p in train.params}  # fmt: skip
    assert flags == set(FIXED) | set(RESUMABLE) | {"--resume"}
    assert ("train", "--lr") in float_options() and ("generate", "--top-p") in float_options()


# -- 11: every file tinylm writes gets the user's umask -------------------------------------------
@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_files_get_the_umask(umask: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("c.txt").write_text(SAMPLE * 3, encoding="utf-8")
    old = os.umask(umask)
    try:
        assert run_cli("tokenize", "c.txt", "--out", "tok", "--kind", "char", "-q").exit_code == 0
        r = run_cli("train", "c.txt", "--kind", "char", "--out", "run", *TRAIN)  # run/data too
        assert r.exit_code == 0, r.output
    finally:
        os.umask(old)
    modes = {
        str(p.relative_to(tmp_path)): p.stat().st_mode & 0o777
        for root in ("tok", "run")
        for p in [tmp_path / root, *sorted((tmp_path / root).rglob("*"))]
    }
    want = {k: (0o777 if (tmp_path / k).is_dir() else 0o666) & ~umask for k in modes}
    assert "run/best/model.safetensors" in modes and "run/run.json" in modes
    assert modes == want
