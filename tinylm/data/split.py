"""Which text is held out for validation: whole documents, or the tail of a single document."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from tinylm.data.text import chunks
from tinylm.errors import UsageError

# a boolean mask of val documents when there are several; else the byte offset of a tail cut
ValSplit = np.ndarray | int


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
        return total - int(target)
    is_val = np.zeros(len(sizes), dtype=bool)
    taken = 0
    order = np.random.default_rng(seed).permutation(np.array(nonempty))
    for i in order[:-1]:  # at least one document stays in train
        if taken >= target:
            break
        is_val[i] = True
        taken += sizes[i]
    return is_val


def _tail_cut(pieces: Iterable[str], cut: int) -> Iterator[tuple[str, str]]:
    """Route a single document: bytes before the first newline at or after `cut` go to train."""
    pos = 0
    in_val = False
    for text in pieces:
        if in_val:
            yield "val", text
            continue
        data = text.encode("utf-8")
        nl = data.find(b"\n", max(cut - pos, 0)) if pos + len(data) > cut else -1
        pos += len(data)
        if nl < 0:
            yield "train", text
            continue
        in_val = True
        head, tail = data[: nl + 1].decode("utf-8"), data[nl + 1 :].decode("utf-8")
        yield "train", head
        if tail:
            yield "val", tail


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
