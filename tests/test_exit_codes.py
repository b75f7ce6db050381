"""The exit-code rule over every command: 1 a problem with the data or the environment, 2 an
impossible option or argument; always one line on stderr and never a traceback."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import pytest
from conftest import TINY_TRAIN, run_cli

from tinylm.cli import cli
from tinylm.errors import TinylmError

MISSING, RANGE, UNKNOWN, CORRUPT = "missing path", "out of range", "unknown option", "corrupt"


def row(command: str, kind: str, code: int, needle: str, *args: str):  # noqa: ANN201
    """One case: `tinylm COMMAND ARGS` ({causal}, {masked}, {tok}, {out}... are filled in)."""
    return pytest.param(command, args, code, needle, id=f"{command}: {kind}: {' '.join(args)}")


BROKEN = ("{broken}",)  # a run whose config.json is not JSON
CASES = [
    row("tokenize", MISSING, 2, "does not exist", "{missing}", "-o", "{out}"),
    row("tokenize", RANGE, 2, "--val-fraction", "{text}", "-o", "{out}", "--val-fraction", "2"),
    row("tokenize", RANGE, 2, "--seed", "{text}", "-o", "{out}", "--seed", "-1"),
    row("tokenize", UNKNOWN, 2, "--bogus", "{text}", "-o", "{out}", "--bogus"),
    row("tokenize", CORRUPT, 1, "invalid UTF-8", "{bad_utf8}", "-o", "{out}"),
    row("tokenize", CORRUPT, 1, "empty", "{empty}", "-o", "{out}"),
    row("train", MISSING, 2, "does not exist", "{missing}", "-o", "{out}"),
    row("train", MISSING, 2, "--resume", "--resume", "{missing}"),
    row("train", MISSING, 2, "--init-from", "{tok}", "--init-from", "{missing}", "-o", "{out}"),
    row("train", RANGE, 2, "--lr", "{tok}", "-o", "{out}", "--lr", "-1"),
    row("train", RANGE, 2, "--seed", "{tok}", "-o", "{out}", "--seed", "1" + "0" * 25),
    row("train", UNKNOWN, 2, "--bogus", "{tok}", "--bogus"),
    row("train", CORRUPT, 1, "config.json is corrupt", "--resume", *BROKEN),
    row(
        "train",
        CORRUPT,
        1,
        "config.json is corrupt",
        "{tok}",
        "--init-from",
        *BROKEN,
        "-o",
        "{out}",
    ),
    row("train", CORRUPT, 1, "invalid UTF-8", "{bad_utf8}", "-o", "{out}"),
    row("train", CORRUPT, 1, "empty", "{empty}", "-o", "{out}"),
    row("generate", MISSING, 2, "does not exist", "{missing}"),
    row("generate", MISSING, 2, "does not exist", "{causal}", "--prompt-file", "{missing}"),
    row("generate", RANGE, 2, "--top-p", "{causal}", "--top-p", "5"),
    row("generate", RANGE, 2, "--seed", "{causal}", "--seed", "1" + "0" * 25),
    row("generate", UNKNOWN, 2, "--bogus", "{causal}", "--bogus"),
    row("generate", CORRUPT, 1, "config.json is corrupt", *BROKEN),
    row("generate", CORRUPT, 1, "invalid UTF-8", "{causal}", "--prompt-file", "{bad_utf8}"),
    row("generate", CORRUPT, 1, "is empty", "{causal}", "--prompt-file", "{empty}"),
    row("fill-mask", MISSING, 2, "does not exist", "{missing}", "a [MASK]"),
    row("fill-mask", MISSING, 2, "does not exist", "{masked}", "--input-file", "{missing}"),
    row("fill-mask", RANGE, 2, "--top-k", "{masked}", "a [MASK]", "-k", "0"),
    row("fill-mask", UNKNOWN, 2, "--bogus", "{masked}", "a [MASK]", "--bogus"),
    row("fill-mask", CORRUPT, 1, "config.json is corrupt", *BROKEN, "a [MASK]"),
    row("fill-mask", CORRUPT, 1, "invalid UTF-8", "{masked}", "--input-file", "{bad_utf8}"),
    row("fill-mask", CORRUPT, 1, "is empty", "{masked}", "--input-file", "{empty}"),
    row("eval", MISSING, 2, "does not exist", "{missing}"),
    row("eval", MISSING, 2, "does not exist", "{causal}", "{missing}"),
    row("eval", RANGE, 2, "--max-tokens", "{causal}", "--max-tokens", "1"),
    row("eval", UNKNOWN, 2, "--bogus", "{causal}", "--bogus"),
    row("eval", CORRUPT, 1, "config.json is corrupt", *BROKEN),
    row("eval", CORRUPT, 1, "invalid UTF-8", "{causal}", "{bad_utf8}"),
    row("eval", CORRUPT, 1, "no text", "{causal}", "{empty}"),
    row("eval", CORRUPT, 1, "fewer than one window", "{causal}", "{short}"),
    row("compare", MISSING, 2, "does not exist", "{causal}", "{missing}"),
    row("compare", MISSING, 2, "does not exist", "{causal}", "{masked}", "{missing}"),
    row("compare", MISSING, 2, "does not exist", "--train", "{missing}", "--out", "{out}"),
    row("compare", RANGE, 2, "--blanks", "{causal}", "{masked}", "--blanks", "0"),
    row("compare", RANGE, 2, "--time", "--train", "--time", "soon", "--out", "{out}"),
    row("compare", RANGE, 2, "--seed", "{causal}", "{masked}", "--seed", "1" + "0" * 25),
    row("compare", UNKNOWN, 2, "--bogus", "{causal}", "{masked}", "--bogus"),
    row("compare", CORRUPT, 1, "config.json is corrupt", *BROKEN, "{masked}"),
    row("compare", CORRUPT, 1, "no text", "{causal}", "{masked}", "{empty}"),
    row("attention", MISSING, 2, "does not exist", "{missing}", "Speak."),
    row("attention", RANGE, 2, "--max-tokens", "{causal}", "Speak.", "--max-tokens", "1"),
    row("attention", RANGE, 2, "--layer 7", "{causal}", "Speak.", "--layer", "7"),
    row("attention", UNKNOWN, 2, "--bogus", "{causal}", "Speak.", "--bogus"),
    row("attention", CORRUPT, 1, "config.json is corrupt", *BROKEN, "Speak."),
    row("probe", MISSING, 2, "does not exist", "{missing}"),
    row("probe", MISSING, 2, "does not exist", "{causal}", "--labels", "{missing}"),
    row("probe", RANGE, 2, "--passages", "{causal}", "--passages", "1"),
    row("probe", RANGE, 2, "--seed", "{causal}", "--seed", "-1"),
    row("probe", UNKNOWN, 2, "--bogus", "{causal}", "--bogus"),
    row("probe", CORRUPT, 1, "config.json is corrupt", *BROKEN),
    row("probe", CORRUPT, 1, "no text", "{causal}", "{empty}"),
    row("probe", CORRUPT, 1, "not a {", "{causal}", "--labels", "{text}"),
    row("plot", MISSING, 2, "does not exist", "{causal}", "{missing}"),
    row("plot", RANGE, 2, "--x", "{causal}", "--x", "hours"),
    row("plot", UNKNOWN, 2, "--bogus", "{causal}", "--bogus"),
    row("plot", CORRUPT, 1, "no metrics.jsonl", "{causal}", "{tok}"),
    row("export", MISSING, 2, "does not exist", "{missing}", "-o", "{out}"),
    row("export", RANGE, 2, "causal models only", "{masked}", "-o", "{out}", "--format", "gguf"),
    row("export", RANGE, 2, "--license", "{causal}", "-o", "{out}", "--license", "Mine!"),
    row("export", UNKNOWN, 2, "--bogus", "{causal}", "-o", "{out}", "--bogus"),
    row("export", CORRUPT, 1, "config.json is corrupt", *BROKEN, "-o", "{out}"),
    row("serve", MISSING, 2, "does not exist", "{missing}", "--port", "0"),
    row("serve", RANGE, 2, "--port", "{causal}", "--port", "70000"),
    row("serve", UNKNOWN, 2, "--bogus", "{causal}", "--bogus"),
    row("serve", CORRUPT, 1, "config.json is corrupt", *BROKEN, "--port", "0"),
]


def test_the_table_covers_every_command() -> None:
    """A new command joins the table with all four kinds of case."""
    kinds = {(p.values[0], p.id.split(": ")[1]) for p in CASES}
    assert kinds == {(c, k) for c in cli.commands for k in (MISSING, RANGE, UNKNOWN, CORRUPT)}


@pytest.fixture
def places(tmp_path: Path, runs: dict[str, Path], token_dir: Path) -> dict[str, str]:
    """What the placeholders of CASES stand for; the runs are only read."""
    broken = tmp_path / "broken"
    shutil.copytree(runs["causal"], broken)
    for which in ("best", "last"):
        (broken / which / "config.json").write_text("{not json", encoding="utf-8")
    files = {"bad_utf8": b"Speak, \xff speak.\n", "empty": b"", "short": b"Speak.\n"}
    for name, data in files.items():
        (tmp_path / f"{name}.txt").write_bytes(data)
    (tmp_path / "text.txt").write_text("Speak, speak.\n" * 50, encoding="utf-8")
    named = {name: tmp_path / f"{name}.txt" for name in (*files, "text")}
    named |= {"broken": broken, "missing": tmp_path / "missing", "out": tmp_path / "out"}
    named |= {"tok": token_dir, **runs}
    return {k: str(v) for k, v in named.items()}


def assert_one_line(r, code: int, needle: str) -> str:  # noqa: ANN001
    """Exit `code`, no traceback, nothing on stdout, and one "Error:" line on stderr (after
    click's usage lines when click refused an option)."""
    assert r.exit_code == code, r.output
    assert isinstance(r.exception, SystemExit) and "Traceback" not in r.output, r.exception
    assert r.stdout == "", r.stdout
    lines = r.stderr.strip().splitlines()
    if lines[0].startswith("Usage:"):  # usage, a hint, a blank line, then the error
        assert code == 2, r.stderr
        lines = lines[-1:]
    assert len(lines) == 1 and lines[0].startswith("Error:"), r.stderr
    assert needle in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(("command", "args", "code", "needle"), CASES)
def test_exit_code_rule(
    places: dict[str, str], command: str, args: tuple[str, ...], code: int, needle: str
) -> None:
    filled = [a.format(**places) for a in args]
    extra = (
        (*TINY_TRAIN, "--max-steps", "1") if command == "train" and "--resume" not in args else ()
    )
    assert_one_line(run_cli(command, *filled, *extra), code, needle)
    assert not Path(places["out"]).exists()  # a refused command leaves nothing behind
    assert not Path(places["missing"]).exists()


@pytest.mark.parametrize(
    ("raised", "needle"),
    [
        (OSError(errno.EIO, "Input/output error", "/mnt/x"), "Input/output error (/mnt/x)."),
        (OSError(errno.ENOSPC, "No space left on device", "/d"), "cannot write (/d)"),
        (OSError(errno.ENAMETOOLONG, "File name too long", "a" * 500), "aaa..."),
        (MemoryError(), "out of memory"),
        (RuntimeError("DefaultCPUAllocator: can't allocate memory: 4 TB"), "out of memory"),
        (TinylmError("a path with a\nnewline"), "a path with a newline"),
    ],
    ids=["EIO", "ENOSPC", "ENAMETOOLONG", "MemoryError", "CPU allocator", "two lines"],
)
def test_group_maps_what_escapes_a_command(
    runs: dict[str, Path], monkeypatch: pytest.MonkeyPatch, raised: Exception, needle: str
) -> None:
    """The environment's failures (exit 1) as one short line, whichever command meets them."""

    def fail(*_args: object) -> None:
        raise raised

    monkeypatch.setattr("tinylm.infer.loading.load_for_inference", fail)
    msg = assert_one_line(run_cli("generate", str(runs["causal"])), 1, needle)
    assert len(msg) < 200


def test_a_bug_keeps_its_traceback(runs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_args: object) -> None:
        raise RuntimeError("a bug in tinylm")

    monkeypatch.setattr("tinylm.infer.loading.load_for_inference", fail)
    r = run_cli("generate", str(runs["causal"]))
    assert isinstance(r.exception, RuntimeError)  # not hidden: it is ours to fix
