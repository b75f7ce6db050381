"""Setups and checks for tests/test_hostile_data.py: each setup builds files under the working
directory (the test's tmp_path) and returns the name it made, so a row reads as its command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from conftest import SAMPLE, read_tokens, run_cli


@cache
def dead_pid() -> int:
    """The PID of a process that has exited: what a kill -9 leaves in a temporary's name."""
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


@dataclass
class Fixtures:
    """The session fixtures a row may need, fetched only when it asks."""

    request: pytest.FixtureRequest

    def token_dir(self) -> Path:
        return self.request.getfixturevalue("token_dir")

    def run(self, objective: str = "causal") -> Path:
        return self.request.getfixturevalue("runs")[objective]


Setup = Callable[[Fixtures], list[str]]  # builds files under the cwd (tmp_path); returns the args


# -- setups ---------------------------------------------------------------------------------------
def corpus_dir(fx: Fixtures) -> str:
    Path("corpus").mkdir()
    Path("corpus/input.txt").write_text(SAMPLE, encoding="utf-8")
    return "corpus"


def in_corpus(*args: str) -> Setup:
    """Build ./corpus; then run `args` (from inside it, with the row's cwd)."""
    return lambda fx: corpus_dir(fx) and list(args)


def text_file(name: str, data: bytes) -> str:
    Path(name).write_bytes(data)
    return name


def big_text() -> str:
    """A corpus whose char tokens (2 bytes each) do not fit a 300 kB disk."""
    return text_file("big.txt", (SAMPLE * 60).encode())


def old_run(fx: Fixtures) -> str:
    """A run directory the user may replace with --force: it must survive a failed new run."""
    shutil.copytree(fx.run(), "old")
    Path("old/notes.txt").write_text("precious", encoding="utf-8")
    return "old"


def tokens(fx: Fixtures, change: Callable[[Path], None] = lambda d: None, dest: str = "tok") -> str:
    """A copy of the session's token directory at `dest`, changed by `change`."""
    shutil.copytree(fx.token_dir(), dest)
    change(Path(dest))
    return dest


def set_id(split: str, at: int, value: int | None = None) -> Callable[[Path], None]:
    """Set one id of a split to `value` (None: the vocabulary size, the first id past it)."""

    def change(d: Path) -> None:
        ids = np.fromfile(d / f"{split}.bin", dtype=np.uint16)
        ids[at] = (
            json.loads((d / "meta.json").read_text())["vocab_size"] if value is None else value
        )
        ids.tofile(d / f"{split}.bin")

    return change


def edit_meta(**fields: object) -> Callable[[Path], None]:
    def change(d: Path) -> None:
        meta = json.loads((d / "meta.json").read_text())
        (d / "meta.json").write_text(json.dumps({**meta, **fields}))

    return change


def append_byte(d: Path) -> None:
    with open(d / "train.bin", "ab") as f:
        f.write(b"\x00")


def other_tokenizer(d: Path) -> None:
    shutil.rmtree(d)
    src = text_file("c.txt", SAMPLE.encode())
    assert run_cli("tokenize", src, "--out", str(d), "--kind", "byte", "-q").exit_code == 0


def resume_on(change: Callable[[Path], None]) -> Setup:
    """A copied run whose run.json points at a token directory changed by `change`."""

    def setup(fx: Fixtures) -> list[str]:
        shutil.copytree(fx.run(), "run")
        info = json.loads(Path("run/run.json").read_text())
        info["data"] = str(Path(tokens(fx, change)).resolve())
        Path("run/run.json").write_text(json.dumps(info))
        return ["train", "--resume", "run", "--max-steps", "5", "-q"]

    return setup


def fill_disk(leave_pages: int, out: str) -> str:
    """Fill the tmpfs at ./full but for `leave_pages` pages; return `out`, the output inside."""
    st = os.statvfs("full")
    Path("full/.filler").write_bytes(b"\x00" * (st.f_bavail - leave_pages) * st.f_frsize)
    return out


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under `root` with its bytes (None for a directory)."""
    return {
        str(p.relative_to(root)): None if p.is_dir() else p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.name != ".filler"
    }


@contextmanager
def tiny_tmpfs(where: Path) -> Iterator[None]:
    """A 300 kB tmpfs at `where`, unmounted afterwards; the row is skipped without root."""
    where.mkdir()
    cmd = ["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(where)]
    if os.geteuid() != 0 or subprocess.run(cmd, capture_output=True).returncode != 0:
        pytest.skip("mounting a 300 kB tmpfs needs root (the full-disk rows)")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def assert_one_line_error(r, code: int, needle: str) -> None:
    assert r.exit_code == code, r.output
    assert isinstance(r.exception, SystemExit) and "Traceback" not in r.output, r.output
    msg = r.stderr.strip()
    assert msg.startswith("Error:") and "\n" not in msg, msg
    assert needle in msg, msg


def split_text(out: Path) -> tuple[str, str]:
    """The decoded train and val splits of a token directory."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    train, val = (tok.decode(np.asarray(read_tokens(out, s)).tolist()) for s in ("train", "val"))
    return train, val


def tail_split(text: str) -> Callable[[Path], None]:
    def check(tmp: Path) -> None:
        train, val = split_text(tmp / "one")
        assert train + val == text  # [EOS] is a special token: decoding leaves it out
        assert len(val.encode()) == len(text.encode()) // 10  # by position: no line end near

    return check


def leftovers(root: Path) -> list[str]:
    """Hidden entries under `root`: temporaries."""
    return sorted(p.name for p in root.rglob(".*") if p.name != ".filler")


def stale_beside(name: str) -> str:
    """An output `name` with the temporaries of a killed writer beside it, and one of a live
    process that must be left alone."""
    Path(name).mkdir()
    (Path(name) / "old.txt").write_text("replaced")
    dead, live = dead_pid(), os.getppid()
    for made in (f"tmp-{dead}-abc123", f"old-{dead}-abc123", f"old-{dead}", f"tmp-{live}-abc123"):
        Path(f".{name}.{made}").mkdir()
        Path(f".{name}.{made}/half.bin").write_bytes(b"\x00" * 10)
    return name


def only_live_temporary(name: str) -> Callable[[Path], None]:
    def check(tmp: Path) -> None:
        assert leftovers(tmp) == [f".{name}.tmp-{os.getppid()}-abc123"]
        assert not (tmp / name / "old.txt").exists()

    return check


def killed_swap(fx: Fixtures) -> list[str]:
    """A run killed between a checkpoint swap's two renames: last/ set aside, best/ half built."""
    shutil.copytree(fx.run(), "run")
    os.replace("run/last", f"run/.last.old-{dead_pid()}-abc123")
    Path(f"run/.best.tmp-{dead_pid()}-abc123").mkdir()
    return ["train", "--resume", "run", "--max-steps", "4", "-q"]


def resumed_to_step_4(tmp: Path) -> None:
    assert json.loads((tmp / "run/last/trainer_state.json").read_text())["step"] == 4
    assert leftovers(tmp / "run") == []


def replaced(tmp: Path) -> None:
    assert (tmp / "old/run.json").is_file() and not (tmp / "old/notes.txt").exists()
    assert leftovers(tmp) == []
