"""Which text is held out for validation: whole documents, or the tail of a single document."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from tinylm.data.text import chunks
from tinylm.errors import UsageError

LOOKAHEAD = 64 << 10  # bytes past a tail cut searched for a line end to move the cut to


@dataclass(frozen=True)
class TailCut:
    """A single document's split: train before byte `at`, val from there; the cut moves to just
    after the first newline among the next `slack` bytes, when there is one."""

    at: int
    slack: int


# a boolean mask of val documents when there are several; else where one document is cut
ValSplit = np.ndarray | TailCut


def choose_val(sizes: list[int], fraction: float, seed: int) -> ValSplit:
    """About `fraction` of the bytes for val: random whole documents, or one document's tail."""
    total = sum(sizes)
    nonempty = [i for i, s in enumerate(sizes) if s > 0]
    target = total * fraction
    if len(nonempty) < 2:
        if int(target) == 0:
            raise UsageError(
                f"--val-fraction {fraction} leaves the val split empty; use a larger fraction."
            )
        # a line end may move the cut by at most half the tail, so val is never empty
        return TailCut(total - int(target), min(LOOKAHEAD, int(target) // 2))
    is_val = np.zeros(len(sizes), dtype=bool)
    taken = 0
    order = np.random.default_rng(seed).permutation(np.array(nonempty))
    for i in order[:-1]:  # at least one document stays in train
        if taken >= target:
            break
        is_val[i] = True
        taken += sizes[i]
    return is_val


def _char_start(data: bytes, i: int) -> int:
    """The first UTF-8 character start at or after byte `i` (continuation bytes are 10xxxxxx)."""
    while i < len(data) and data[i] & 0xC0 == 0x80:
        i += 1
    return i


def _tail_cut(pieces: Iterable[str], cut: TailCut) -> Iterator[tuple[str, str]]:
    """Route a single document's pieces to train, then val, holding at most the search window.

    A document of one huge line (say 50 MB on stdin) has no line end near the cut: it is cut at
    the byte position, moved to the next character start."""
    stop = cut.at + cut.slack  # a newline at or past here does not move the cut
    pos = 0  # document bytes before `held`
    held = b""  # bytes from the cut on, kept while a newline may still move it
    searching = False
    rest = None
    it = iter(pieces)
    for text in it:
        data = held + text.encode("utf-8")
        if not searching:
            if pos + len(data) <= cut.at:
                pos += len(data)
                yield "train", text
                continue
            start = _char_start(data, cut.at - pos)
            if start:
                yield "train", data[:start].decode("utf-8")
            pos, data, searching = pos + start, data[start:], True
        nl = data.find(b"\n", 0, max(stop - pos, 0))
        if nl >= 0:
            yield "train", data[: nl + 1].decode("utf-8")
            rest = data[nl + 1 :]
            break
        if pos + len(data) >= stop:
            rest = data
            break
        held = data
    else:
        rest = held  # the document ended inside the window
    if rest:
        yield "val", rest.decode("utf-8")
    for text in it:
        yield "val", text


def route(split: ValSplit, index: int, doc: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(split name, chunk) for each chunk of document number `index`."""
    if isinstance(split, np.ndarray):
        name = "val" if split[index] else "train"
        return ((name, chunk) for chunk in chunks(doc))
    return ((name, c) for name, text in _tail_cut(doc, split) for c in chunks([text]))


def check_not_empty(tokens: dict[str, int], fraction: float) -> None:
    """Refuse a split that received no tokens, naming the option that chose it."""
    for name, n in tokens.items():
        if n == 0:
            raise UsageError(
                f"--val-fraction {fraction} leaves the {name} split empty; "
                "choose another fraction or add text."
            )
