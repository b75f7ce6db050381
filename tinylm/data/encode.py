"""The encoding pass: each document's chunks, encoded in batches, to its split's token file."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from tinylm.data.meta import SPLITS
from tinylm.data.split import ValSplit, route
from tinylm.data.tokenizer import specials_as_text
from tinylm.data.vocab import EOS_ID

BATCH_CHARS = 2 << 20  # text handed to one encode_batch call


def token_dtype(vocab_size: int) -> np.dtype:
    """The smallest unsigned dtype that holds every id of the vocabulary."""
    return np.dtype(np.uint16 if vocab_size <= 1 << 16 else np.uint32)


@dataclass
class SplitStats:
    """Documents, UTF-8 bytes and tokens written to one split."""

    documents: int = 0
    bytes: int = 0
    tokens: int = 0


class _SplitWriter:
    """Buffers text chunks of one split and writes their ids to a .bin file in batches."""

    def __init__(self, tokenizer: Tokenizer, path: Path, dtype: np.dtype) -> None:
        self.tokenizer = tokenizer
        self.file = open(path, "wb")  # noqa: SIM115 - closed in close()
        self.dtype = dtype
        self.queue: list[str | None] = []  # None = an [EOS] after a document
        self.queued = 0
        self.stats = SplitStats()

    def add(self, text: str) -> None:
        self.queue.append(text)
        self.queued += len(text)
        self.stats.bytes += len(text.encode("utf-8"))
        if self.queued >= BATCH_CHARS:
            self.flush()

    def end_document(self) -> None:
        self.queue.append(None)
        self.stats.documents += 1

    def flush(self) -> None:
        texts = [t for t in self.queue if t is not None]
        encoded = iter(self.tokenizer.encode_batch(texts, add_special_tokens=False))
        parts = [
            np.array([EOS_ID] if t is None else next(encoded).ids, dtype=self.dtype)
            for t in self.queue
        ]
        if parts:
            ids = np.concatenate(parts)
            # file.write, not ids.tofile: tofile reports a full disk without an errno
            self.file.write(ids.tobytes())
            self.stats.tokens += len(ids)
        self.queue, self.queued = [], 0

    def close(self) -> None:
        self.flush()
        self.file.close()


def encode_corpus(
    docs: Iterable[Iterator[str]], split: ValSplit, tokenizer: Tokenizer, out: Path, dtype: np.dtype
) -> dict[str, SplitStats]:
    """Write out/train.bin and out/val.bin: each document's ids, then an [EOS], in its split."""
    with specials_as_text(tokenizer):
        writers = {name: _SplitWriter(tokenizer, out / f"{name}.bin", dtype) for name in SPLITS}
        try:
            for i, doc in enumerate(docs):
                used = set()
                for name, chunk in route(split, i, doc):
                    writers[name].add(chunk)
                    used.add(name)
                for name in sorted(used):  # a document cut in two ends in each split
                    writers[name].end_document()
        finally:
            for w in writers.values():
                w.close()
    return {name: w.stats for name, w in writers.items()}
