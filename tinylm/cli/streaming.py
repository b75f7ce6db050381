"""How generated text reaches stdout: drawn from the sampler, as it comes on a terminal, line
by line to a pipe."""

from __future__ import annotations

import io
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from tinylm.infer.loading import TextStream

LINE_BUFFER = 8192  # characters of one line held before they go out anyway (stdio's BUFSIZ)


def stream_mode(stream: bool | None, as_json: bool) -> str:
    """How a sample reaches stdout: "tokens" as they come, whole "lines", or "off" (when done)."""
    if as_json or stream is False:
        return "off"
    return "tokens" if stream or sys.stdout.isatty() else "lines"


class Echo:
    """Prints a sample (from its prompt on) as it comes, in the stream mode's units; a line
    longer than LINE_BUFFER goes out in parts, as a full stdio buffer would."""

    def __init__(self, mode: str, prompt: str) -> None:
        self.mode = mode
        self._held: list[str] = []  # the incomplete line, in pieces (joining each time is O(n²))
        self._size = 0
        self(prompt)

    def __call__(self, piece: str) -> None:
        """Print what `piece` makes printable: all of it on a terminal, whole lines to a pipe."""
        if not piece or self.mode == "off":
            return
        if self.mode == "tokens":
            click.echo(piece, nl=False)  # click.echo flushes: the piece shows now
            return
        self._held.append(piece)
        self._size += len(piece)
        if "\n" in piece or self._size >= LINE_BUFFER:
            text = "".join(self._held)
            cut = len(text) if self._size >= LINE_BUFFER else text.rfind("\n") + 1
            self._held, self._size = [text[cut:]], len(text) - cut
            click.echo(text[:cut], nl=False)

    def end(self, rest: str) -> None:
        """The rest of a streamed sample, and its newline."""
        click.echo("".join(self._held) + rest)


def silence_stdout() -> None:
    """Point stdout at the null device, so that the exit's flush cannot fail again."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass  # not a real file (as under a test runner): nothing will flush there


@dataclass
class Drawn:
    """One sample as it was drawn: its text, why it ended and how fast it came."""

    out: TextStream
    reason: str  # "length", "eos", "stop" or "interrupted"
    first: float  # seconds to the first token
    seconds: float
    rest: str  # what streaming had not printed yet

    def summary(self, dev: object, seed: int) -> str:
        """The statistics line for stderr."""
        n = self.out.count
        rate = n / self.seconds if self.seconds > 0 else 0.0
        return (
            f"[{n} tokens, {rate:.0f} tokens/s, first token {self.first * 1000:.0f} ms, "
            f"{dev}, seed {seed}, stop: {self.reason}]"
        )


def draw(tokens: Iterator[int], out: TextStream, echo: Echo, most: int) -> Drawn:
    """Consume the tokens into text until a stop string, echoing pieces as they settle. Ctrl-C
    ends the sample early, keeping what was drawn (the caller prints it, then exits 130)."""
    started = time.perf_counter()
    first = None
    reason = "length"
    try:
        for token in tokens:
            first = first or time.perf_counter() - started
            echo(out.push(token))
            if out.stopped:
                reason = "stop"
                break
        else:
            if out.count < most:
                reason = "eos"
    except KeyboardInterrupt:
        reason = "interrupted"
    rest = out.finish(complete_only=reason == "interrupted")  # never half a character
    return Drawn(out, reason, first or 0.0, time.perf_counter() - started, rest)
