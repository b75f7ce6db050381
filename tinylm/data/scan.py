"""The first pass over a corpus: the size of each document, and the alphabet when it is needed."""

from __future__ import annotations

from dataclasses import dataclass

from tinylm.data.corpus import ByteCallback, Source, iter_documents
from tinylm.data.options import ReadOptions
from tinylm.errors import TinylmError


@dataclass(frozen=True)
class CorpusScan:
    """What the scan learned: UTF-8 bytes per document (in reading order) and the characters."""

    sizes: list[int]
    alphabet: set[str]  # empty unless asked for

    @property
    def documents(self) -> int:
        """Documents that hold any text."""
        return sum(1 for n in self.sizes if n > 0)


def scan_corpus(
    sources: list[Source], read: ReadOptions, on_bytes: ByteCallback, need_alphabet: bool
) -> CorpusScan:
    """Read the corpus once without holding it; refuse a corpus without text."""
    sizes: list[int] = []
    alphabet: set[str] = set()
    visible = False  # any character besides whitespace: a tokenizer has something to learn
    for doc in iter_documents(sources, read, on_bytes):
        n = 0
        for text in doc:
            n += len(text.encode("utf-8"))
            visible = visible or not text.isspace()
            if need_alphabet:  # 30x the cost of the byte count, and bpe/byte never use it
                alphabet.update(text)
        sizes.append(n)
    if sum(sizes) == 0:
        raise TinylmError("the corpus is empty: the inputs hold no text.")
    if not visible:
        raise TinylmError(
            f"the corpus is empty: its {sum(sizes):,} bytes are all whitespace; give text."
        )
    return CorpusScan(sizes, alphabet)
