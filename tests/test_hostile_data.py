"""Hostile data (issue 10: defects 1, 3, 4, 5, 9), one row per case. Refusals (an --out over
the inputs, empty corpora, token files that disagree with their vocabulary, full disks) assert the
exit code, one line on stderr and no traceback, and a tree under tmp_path byte-for-byte unchanged
(inputs untouched, an output replaced with --force still there, no temporaries) but for the paths
a row allows. Recoveries: a one-line corpus splits by position; killed runs' temporaries go."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import TINY_TRAIN, run_cli
from hostile_setups import (
    Fixtures,
    Setup,
    append_byte,
    assert_one_line_error,
    big_text,
    corpus_dir,
    edit_meta,
    fill_disk,
    in_corpus,
    killed_swap,
    old_run,
    only_live_temporary,
    other_tokenizer,
    replaced,
    resume_on,
    resumed_to_step_4,
    set_id,
    snapshot,
    stale_beside,
    tail_split,
    text_file,
    tiny_tmpfs,
    tokens,
)

TRAIN = (*TINY_TRAIN, "--max-steps", "2", "-q")
ONE_LINE = "the quick brown fox jumps over the lazy dog " * 2000  # no newline at all


# -- refusals -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Refusal:
    id: str
    setup: Setup
    code: int
    needle: str
    stdin: bytes | None = None
    cwd: str = "."  # relative to tmp_path, where every setup runs
    full_disk: bool = False  # ./full is a 300 kB tmpfs
    may_add: tuple[str, ...] = ()  # what the failed command may leave (the rest stays unchanged)


RUN_DIR = ("full/run", "full/run/run.json", "full/run/metrics.jsonl")
REFUSALS = [
    # 1: an --out over the inputs or the working directory, which --force would have destroyed
    Refusal(
        "train --out is its text input, with --force",
        lambda fx: ["train", corpus_dir(fx), "--out", "corpus", "--force", *TRAIN],
        2,
        "--out corpus is the input corpus",
    ),
    Refusal(
        "tokenize --out is its input directory, with --force",
        lambda fx: ["tokenize", corpus_dir(fx), "--out", "corpus", "--force"],
        2,
        "--out corpus is the input corpus",
    ),
    Refusal(
        "tokenize --out . (the working directory), with --force",
        in_corpus("tokenize", "input.txt", "--out", ".", "--force"),
        2,
        "--out . is the current directory",
        cwd="corpus",
    ),
    Refusal(
        "tokenize --out .. (a parent of the working directory), with --force",
        in_corpus("tokenize", "input.txt", "--out", "..", "--force"),
        2,
        "--out .. is the current directory or one of its parents",
        cwd="corpus",
    ),
    Refusal(
        "train --out holds its token data, with --force",
        lambda fx: ["train", tokens(fx, dest="data/tok"), "--out", "data", "--force", *TRAIN],
        2,
        "--out data holds the input data/tok",
    ),
    Refusal(
        "train --out is its --init-from run, with --force",
        lambda fx: (
            ["train", tokens(fx), "--init-from", old_run(fx), "--out", "old", "--force"]
            + list(TRAIN)
        ),
        2,
        "--out old is the input old",
    ),
    Refusal(
        "tokenize --out holds its --tokenizer, with --force",
        lambda fx: (
            ["tokenize", big_text(), "--tokenizer", f"{tokens(fx)}/tokenizer.json"]
            + ["--out", "tok", "--force"]
        ),
        2,
        "--out tok holds the input tok/tokenizer.json",
    ),
    Refusal(
        "tokenize --force over an old output, on bad input: the old output stays",
        lambda fx: (
            ["tokenize", text_file("bad.txt", b"ok\n\xff\n"), "--out", tokens(fx)] + ["--force"]
        ),
        1,
        "invalid UTF-8",
    ),
    # 3: corpora without text, refused after the first pass, before any tokenizer work
    Refusal(
        "tokenize whitespace-only stdin",
        lambda fx: ["tokenize", "-", "--out", "o"],
        1,
        "the corpus is empty: its 7 bytes are all whitespace",
        stdin=b"  \n\t\n \r\n",
    ),
    Refusal(
        "tokenize empty stdin",
        lambda fx: ["tokenize", "-", "--out", "o"],
        1,
        "the corpus is empty",
        stdin=b"",
    ),
    Refusal(
        "train on a whitespace-only text file",
        lambda fx: ["train", text_file("ws.txt", b" \n" * 500), "--out", "r", *TRAIN],
        1,
        "all whitespace",
    ),
    # 4: token data checked against the vocabulary before the run starts
    Refusal(
        "train.bin holds id 65535",
        lambda fx: ["train", tokens(fx, set_id("train", 100, 65535)), "--out", "r", *TRAIN],
        1,
        "tok/train.bin holds id 65535 at token 100, outside the vocabulary",
    ),
    Refusal(
        "val.bin holds one id equal to the vocabulary size",
        lambda fx: ["train", tokens(fx, set_id("val", 7)), "--out", "r", *TRAIN],
        1,
        "at token 7, outside the vocabulary",
    ),
    Refusal(
        "meta.json claims a vocabulary of 70000",
        lambda fx: ["train", tokens(fx, edit_meta(vocab_size=70000)), "--out", "r", *TRAIN],
        1,
        "says the vocabulary has 70000 ids but tokenizer.json has",
    ),
    Refusal(
        "train.bin of an odd size",
        lambda fx: ["train", tokens(fx, append_byte), "--out", "r", *TRAIN],
        1,
        "not a whole number of uint16 ids",
    ),
    Refusal(
        "meta.json with a float dtype",
        lambda fx: ["train", tokens(fx, edit_meta(dtype="float64")), "--out", "r", *TRAIN],
        1,
        "is not uint16 or uint32",
    ),
    Refusal(
        "train --force over an old run, on bad token data: the old run stays",
        lambda fx: (
            ["train", tokens(fx, set_id("train", 3, 65535)), "--out", old_run(fx)]
            + ["--force", *TRAIN]
        ),
        1,
        "outside the vocabulary",
    ),
    Refusal(
        "--resume on a run.json pointed at token data with bad ids",
        resume_on(set_id("train", 0, 65535)),
        1,
        "outside the vocabulary",
    ),
    Refusal(
        "--resume on a run.json pointed at another tokenizer's data",
        resume_on(other_tokenizer),
        1,
        "another tokenizer",
    ),
    # 5: a full disk, for every writer: one line, and nothing half-written left behind
    Refusal(
        "tokenize onto a full disk",
        lambda fx: ["tokenize", big_text(), "--out", "full/tok", "--kind", "char"],
        1,
        "cannot write full/tok: No space left on device",
        full_disk=True,
    ),
    Refusal(
        "train on raw text onto a full disk",
        lambda fx: ["train", big_text(), "--out", "full/run", "--kind", "char", *TRAIN],
        1,
        "cannot write full/run/data: No space left on device",
        full_disk=True,
    ),
    Refusal(
        "train: the first checkpoint meets a full disk",
        lambda fx: ["train", tokens(fx), "--out", fill_disk(3, "full/run"), *TRAIN],
        1,
        "cannot write full/run/last: No space left on device",
        full_disk=True,
        may_add=RUN_DIR,
    ),
    Refusal(
        "train: metrics.jsonl meets a full disk",
        lambda fx: ["train", tokens(fx), "--out", fill_disk(1, "full/run"), *TRAIN],
        1,
        "cannot write full/run/metrics.jsonl: No space left on device",
        full_disk=True,
        may_add=RUN_DIR,
    ),
]


@pytest.mark.parametrize("case", REFUSALS, ids=[c.id for c in REFUSALS])
def test_refusal(
    case: Refusal, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    fx = Fixtures(request)
    with tiny_tmpfs(tmp_path / "full") if case.full_disk else nullcontext():
        args = case.setup(fx)
        before = snapshot(tmp_path)
        monkeypatch.chdir(tmp_path / case.cwd)
        r = run_cli(*args, input=case.stdin)
        after = snapshot(tmp_path)
    assert_one_line_error(r, case.code, case.needle)
    assert {k: v for k, v in after.items() if k not in case.may_add} == {
        k: v for k, v in before.items() if k not in case.may_add
    }


@dataclass(frozen=True)
class Recovery:
    id: str
    setup: Setup
    check: Callable[[Path], None]
    stdin: bytes | None = None


RECOVERIES = [
    # 3: a single document is split by position when no line end is near the cut
    Recovery(
        "tokenize a one-line corpus from stdin",
        lambda fx: ["tokenize", "-", "--out", "one", "--kind", "byte", "-q"],
        tail_split(ONE_LINE),
        stdin=ONE_LINE.encode(),
    ),
    Recovery(
        "tokenize a one-line corpus ending in its only newline",
        lambda fx: ["tokenize", "-", "--out", "one", "--kind", "byte", "-q"],
        tail_split(ONE_LINE + "\n"),
        stdin=(ONE_LINE + "\n").encode(),
    ),
    # 9: temporaries of killed runs are collected by the next writer of the same output
    Recovery(
        "tokenize collects a killed writer's temporaries, not a live one's",
        lambda fx: ["tokenize", big_text(), "--out", stale_beside("tok"), "--force", "-q"],
        only_live_temporary("tok"),
    ),
    Recovery(
        "train collects a killed run's temporaries beside --out, not a live one's",
        lambda fx: ["train", tokens(fx), "--out", stale_beside("r"), "--force", *TRAIN],
        only_live_temporary("r"),
    ),
    Recovery(
        "--resume puts back a last/ set aside by a killed swap", killed_swap, resumed_to_step_4
    ),
    # 1: --force replaces a run only once the new one is set up
    Recovery(
        "train --force over an old run",
        lambda fx: ["train", tokens(fx), "--out", old_run(fx), "--force", *TRAIN],
        replaced,
    ),
]


@pytest.mark.parametrize("case", RECOVERIES, ids=[c.id for c in RECOVERIES])
def test_recovery(
    case: Recovery, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = case.setup(Fixtures(request))
    r = run_cli(*args, input=case.stdin)
    assert r.exit_code == 0, r.output
    case.check(tmp_path)
