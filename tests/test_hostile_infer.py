"""Hostile input to the inference commands (issue 10, defects 7, 10 and 11): absurd lengths,
Ctrl-C and closed pipes while generating, runs with only last/, texts too long for a model,
invalid UTF-8 for eval. Each row: the exit code, one line on stderr, no traceback, stdout."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import random
import select
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import SAMPLE, run_cli
from tokenizers import Tokenizer

from tinylm.data.tokenizer import build_tokenizer, resolve_vocab_size
from tinylm.data.vocab import SPECIAL_TOKENS
from tinylm.infer.config import MAX_NEW_TOKENS, SamplingConfig
from tinylm.infer.loading import SETTLE_LIMIT, TextStream

NOTE = "has no best/ checkpoint (no evaluation saved one); using last/, step 3."


@pytest.fixture(scope="module")
def places(runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The paths rows name: the session runs, copies of them with only last/, and texts."""
    root = tmp_path_factory.mktemp("hostile_infer")
    out = {name: str(path) for name, path in runs.items()}
    for name, run in runs.items():
        shutil.copytree(run, root / f"last_{name}")
        shutil.rmtree(root / f"last_{name}" / "best")  # as a run stopped before its first eval
        out[f"last_{name}"] = str(root / f"last_{name}")
    (root / "bad.txt").write_bytes(SAMPLE.encode() + b"\xff\xfe" + SAMPLE.encode())
    (root / "empty.txt").write_bytes(b"")
    out |= {"bad": str(root / "bad.txt"), "empty": str(root / "empty.txt")}
    out["missing"] = str(root / "missing")
    return out


@dataclass(frozen=True)
class Row:
    """One command line and what it must give."""

    args: tuple[str, ...]  # formatted with the places
    code: int
    needle: str  # on exactly one line of stderr ("": no line has to say anything)
    stdout: str = ""  # in stdout; with a failing code stdout must be empty


def row(code: int, needle: str, *args: str, stdout: str = "") -> Row:
    return Row(args, code, needle, stdout)


LONG = "[MASK]" * 40  # 40 tokens: more than the 16 positions of the test models
ROWS = {
    # defect 7: a hard cap on --max-new-tokens, refused before the checkpoint loads
    "n absurd": row(2, "10000000 is out of range; use 0 to 1,000,000", "generate", "{causal}",
                    "-n", "10000000"),
    "n absurd, before loading": row(2, "out of range", "generate", "{missing}", "-n", "1000001"),
    "compare --new-tokens absurd": row(2, "2000000 is out of range; use 1 to 1,000,000",
                                       "compare", "{causal}", "{masked}",
                                       "--new-tokens", "2000000"),
    # defect 11: a run with only last/ says so, in every command that loads a run
    "last only: generate": row(0, NOTE, "generate", "{last_causal}", "-p", "First", "-n", "5",
                               stdout="First"),
    "last only: fill-mask": row(0, NOTE, "fill-mask", "{last_masked}", "Fir[MASK]t",
                                stdout="mask 1:"),
    "last only: eval": row(0, NOTE, "eval", "{last_causal}", "--json", stdout='"bits_per_byte"'),
    "last only: attention": row(0, NOTE, "attention", "{last_causal}", "First", "--json",
                                stdout='"tokens"'),
    "last only: compare": row(1, NOTE, "compare", "{last_causal}", "{masked}", "{empty}"),
    # defect 11: the longest text fill-mask takes, and why it differs between the families
    "fill-mask too long: causal": row(
        2, "this causal model reads at most 15 (its 16 positions less one for the [EOS] that "
        "starts the text)", "fill-mask", "{causal}", LONG),
    "fill-mask too long: masked": row(
        2, "this masked model reads at most 16 (its whole context of 16 positions)",
        "fill-mask", "{masked}", LONG),
    # defect 10: eval's message about invalid UTF-8 names an option eval has
    "eval bad UTF-8": row(1, f"invalid UTF-8 at byte offset {len(SAMPLE)}; fix the file or "
                          "pass --errors replace", "eval", "{causal}", "{bad}"),
    "eval bad UTF-8, --errors replace": row(0, "", "eval", "{causal}", "{bad}", "--errors",
                                            "replace", "--json", stdout='"bits_per_byte"'),
    "eval --errors without TEXT": row(2, "--errors replace applies to TEXT", "eval", "{causal}",
                                      "--errors", "replace"),
}  # fmt: skip


@pytest.mark.parametrize("case", ROWS.values(), ids=ROWS.keys())
def test_hostile_inference(places: dict[str, str], case: Row) -> None:
    r = run_cli(*(a.format(**places) for a in case.args))
    assert r.exit_code == case.code, r.output
    assert "Traceback" not in r.output and (r.exception is None or r.exit_code != 0), r.exception
    if case.needle:
        assert len([ln for ln in r.stderr.splitlines() if case.needle in ln]) == 1, r.stderr
    if case.code != 0:  # one error line (after click's usage lines), nothing on stdout
        errors = [ln for ln in r.stderr.splitlines() if ln.startswith("Error:")]
        assert len(errors) == 1 and r.stdout == "", r.output
    assert case.stdout in r.stdout, r.stdout


def test_no_note_when_the_checkpoint_asked_for_is_there(places: dict[str, str]) -> None:
    for args in (("{last_causal}", "--checkpoint", "last"), ("{causal}",), ("{causal}/last",)):
        r = run_cli("generate", *(a.format(**places) for a in args), "-n", "3")
        assert r.exit_code == 0 and "has no" not in r.stderr, r.output


def test_max_new_tokens_cap_is_the_library_bound() -> None:
    SamplingConfig(max_new_tokens=MAX_NEW_TOKENS)
    with pytest.raises(ValueError, match="out of range"):
        SamplingConfig(max_new_tokens=MAX_NEW_TOKENS + 1)


# -- Ctrl-C keeps what was generated ----------------------------------------------------------
def _interrupted_after(k: int):  # noqa: ANN202
    """A stand-in for generate's token source: k tokens of "ab\\n" text, then Ctrl-C."""

    def tokens(model, ids, cfg, g, masked) -> Iterator[int]:  # noqa: ANN001
        from tinylm.infer.sampling import generate

        yield from list(generate(model, ids, SamplingConfig(max_new_tokens=k, stop_at_eos=False)))
        raise KeyboardInterrupt

    return tokens


INTERRUPTS = {  # extra args -> how stdout must look
    "pipe (lines)": ((), "text"),
    "terminal (tokens)": (("--stream",), "text"),
    "--no-stream": (("--no-stream",), "text"),
    "--json": (("--json",), "json"),
}


@pytest.mark.parametrize(("extra", "shape"), INTERRUPTS.values(), ids=INTERRUPTS.keys())
def test_ctrl_c_prints_the_text_so_far_and_exits_130(
    places: dict[str, str], monkeypatch: pytest.MonkeyPatch, extra: tuple[str, ...], shape: str
) -> None:
    cli_generate = importlib.import_module("tinylm.cli.generate")  # the package's `generate`
    # attribute is the command, which shadows the module
    args = ("generate", places["causal"], "-p", "First", "-n", "500", "--seed", "3", *extra)
    monkeypatch.setattr(cli_generate, "_tokens", _interrupted_after(12))
    r = run_cli(*args, "--num-samples", "3")
    assert r.exit_code == 130 and "Traceback" not in r.output, r.output
    assert "stop: interrupted]" in r.stderr and r.stderr.rstrip().endswith("Interrupted.")
    assert r.stderr.count("tokens/s") == 1  # the later samples are not drawn
    if shape == "json":
        row = json.loads(r.stdout)  # one whole line, parseable
        assert row["stop_reason"] == "interrupted" and row["tokens"] == 12
        assert row["prompt"] == "First" and row["text"]
    else:
        assert r.stdout.startswith("First") and r.stdout.endswith("\n") and len(r.stdout) > 7
        assert "---" not in r.stdout


def test_default_pipe_output_equals_stream_and_no_stream(places: dict[str, str]) -> None:
    args = ("generate", places["causal"], "-p", "First", "-n", "60", "--seed", "9")
    outs = {extra: run_cli(*args, *extra).stdout for extra in ((), ("--stream",), ("--no-stream",))}
    assert len(set(outs.values())) == 1 and outs[()].startswith("First"), outs


ECHO = {  # pieces pushed -> what each push writes to a pipe
    "whole lines only": (["b\nc", "d", "\n", "e"], ["ab\n", "", "cd\n", ""]),
    "several lines at once": (["1\n2\n3"], ["a1\n2\n"]),
    "a long line in parts": (["x" * 9000, "y"], ["a" + "x" * 9000, ""]),
}


@pytest.mark.parametrize(("pieces", "writes"), ECHO.values(), ids=ECHO.keys())
def test_pipe_gets_whole_lines_as_they_complete(
    capsys: pytest.CaptureFixture, pieces: list[str], writes: list[str]
) -> None:
    from tinylm.cli.streaming import Echo

    echo = Echo("lines", "a")
    assert capsys.readouterr().out == ""
    for piece, written in zip(pieces, writes, strict=True):
        echo(piece)
        assert capsys.readouterr().out == written
    echo.end("!")
    assert capsys.readouterr().out.endswith("!\n")


# -- the real thing: a piped `python -m tinylm generate`, then SIGINT or a closed pipe --------
@contextlib.contextmanager
def _generating(run: str, *extra: str) -> Iterator[tuple[subprocess.Popen, bytes]]:
    """A long generation with stdout on a pipe, and its first complete line, read while the
    process is still running. The process is killed on the way out, whatever happened."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    cmd = [sys.executable, "-m", "tinylm", "generate", run, "-p", "First", "-n", "1000000"]
    proc = subprocess.Popen(
        [*cmd, "--ignore-eos", "--seed", "1", "--device", "cpu", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        got = b""
        while b"\n" not in got:
            ready, _, _ = select.select([proc.stdout], [], [], 60)
            assert ready, "no whole line on the pipe within 60 s"
            chunk = os.read(proc.stdout.fileno(), 1 << 16)
            assert chunk, proc.communicate()[1].decode()
            got += chunk
        assert proc.poll() is None  # the text arrived while generation went on
        yield proc, got
    finally:
        if proc.poll() is None:  # a failed assertion must not leave a generator running
            proc.kill()
            proc.communicate()


def test_sigint_to_piped_generate_prints_the_text_so_far(places: dict[str, str]) -> None:
    with _generating(places["causal"]) as (proc, first):
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=60)
    out = (first + rest).decode("utf-8")  # strict: never half a character
    assert proc.returncode == 130, err.decode()
    assert out.startswith("First") and out.endswith("\n") and len(rest) > 0
    assert b"Traceback" not in err and b"stop: interrupted]" in err
    assert err.decode().rstrip().endswith("Interrupted.")


def test_closed_pipe_ends_generate_quietly(places: dict[str, str]) -> None:
    with _generating(places["causal"]) as (proc, _):
        proc.stdout.close()  # like `| head -1` exiting
        err = proc.communicate(timeout=60)[1].decode()
    assert proc.returncode == 0 and "Traceback" not in err and "Exception" not in err, err


# -- TextStream: the same text as a whole decode, at a bounded cost per token -----------------
def _tokenizers() -> dict[str, Tokenizer]:
    texts = SAMPLE.split("\n")
    alphabet = set(SAMPLE)
    return {
        kind: build_tokenizer(kind, iter(texts), size, 1, alphabet)
        for kind, size in (
            ("byte", resolve_vocab_size("byte", None, alphabet)),
            ("char", resolve_vocab_size("char", None, alphabet)),
            ("bpe", 300),
        )
    }


class _Counting:
    """A tokenizer that records how many ids each decode is given."""

    def __init__(self, tok: Tokenizer) -> None:
        self.tok, self.sizes = tok, []

    def decode(self, ids: list[int], **kw: bool) -> str:
        self.sizes.append(len(ids))
        return self.tok.decode(ids, **kw)


def _whole(tok: Tokenizer, ids: list[int], stops: tuple[str, ...]) -> str:
    text = tok.decode(ids, skip_special_tokens=False)
    for special in SPECIAL_TOKENS:
        text = text.replace(special, "")
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
    return text[:cut] if cut >= 0 else text


def test_text_stream_equals_a_whole_decode_at_a_bounded_cost() -> None:
    rng = random.Random(0)
    for kind, tok in _tokenizers().items():
        vocab = tok.get_vocab_size()
        for _ in range(150):
            ids = [rng.randrange(vocab) for _ in range(rng.randrange(1, 200))]
            stops = rng.choice([(), ("\n\n",), ("e", "Speak"), ("First C",)])
            counting = _Counting(tok)
            stream = TextStream(counting, stops)  # type: ignore[arg-type]
            pieces = []
            for i in ids:
                pieces.append(stream.push(i))
                if stream.stopped:
                    break
            pieces.append(stream.finish())
            assert "".join(pieces) == stream.text == _whole(tok, ids, stops), kind
            assert max(counting.sizes) <= 2 * SETTLE_LIMIT, kind  # not the whole sample


@pytest.mark.parametrize("command", ["train", "compare", "probe"])
def test_every_command_that_reads_text_has_the_errors_option_its_message_names(
    command: str, tmp_path: Path
) -> None:
    """Invalid UTF-8 says "pass --errors replace": every command that reads text takes it."""
    r = run_cli(command, "--help")
    assert r.exit_code == 0 and "--errors [strict|replace]" in r.stdout


def test_train_on_raw_text_with_bad_utf8_takes_errors_replace(tmp_path: Path) -> None:
    from conftest import TINY_TRAIN

    bad = tmp_path / "bad.txt"
    bad.write_bytes(SAMPLE.encode() * 3 + b"\xff\xfe" + SAMPLE.encode())
    args = ["train", str(bad), "--kind", "char", "--max-steps", "1", *TINY_TRAIN]
    r = run_cli(*args, "--out", str(tmp_path / "strict"))
    assert r.exit_code == 1 and "pass --errors replace" in r.stderr
    assert not (tmp_path / "strict").exists()
    r = run_cli(*args, "--out", str(tmp_path / "replaced"), "--errors", "replace")
    assert r.exit_code == 0, r.output
