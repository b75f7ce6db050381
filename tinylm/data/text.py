"""Text on streams of pieces: BOM and newline normalisation, Gutenberg stripping, chunking."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator

CHUNK_CHARS = 16 << 10  # one encode_batch item; cut at a newline so words stay whole


def normalise(pieces: Iterable[str]) -> Iterator[str]:
    """Strip a leading BOM and turn CRLF and bare CR into LF, across piece boundaries."""
    first = True
    carry_cr = False
    for text in pieces:
        if first:
            text = text.removeprefix("\ufeff")
            first = False
        if carry_cr:
            text = "\r" + text
        carry_cr = text.endswith("\r")
        if carry_cr:
            text = text[:-1]
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if text:
            yield text
    if carry_cr:
        yield "\n"


_GUTENBERG_START = re.compile(
    r"^\s*\*{3}\s*START OF (THIS|THE) PROJECT GUTENBERG E-?BOOK", re.IGNORECASE
)
_GUTENBERG_END = re.compile(
    r"^\s*(\*{3}\s*END OF (THIS|THE) PROJECT GUTENBERG E-?BOOK|End of (the )?Project Gutenberg)",
    re.IGNORECASE,
)
_HEADER_LINES = 2000  # a Gutenberg header is a few hundred lines at most


def _lines(pieces: Iterable[str]) -> Iterator[str]:
    carry = ""
    for text in pieces:
        parts = (carry + text).split("\n")
        carry = parts.pop()
        for part in parts:
            yield part + "\n"
    if carry:
        yield carry


def strip_gutenberg(pieces: Iterable[str]) -> Iterator[str]:
    """Drop a Project Gutenberg header (through its START line) and footer (from its END line)."""
    lines = _lines(pieces)
    head: list[str] = []
    for line in lines:
        if _GUTENBERG_START.match(line):
            head = []
            break
        head.append(line)
        if len(head) >= _HEADER_LINES:
            break
    for line in itertools.chain(head, lines):
        if _GUTENBERG_END.match(line):
            return
        yield line


def chunks(pieces: Iterable[str]) -> Iterator[str]:
    """Regroup a document's pieces into items of about CHUNK_CHARS, cut after a newline."""
    carry = ""
    for text in pieces:
        s = carry + text
        pos = 0
        while len(s) - pos > CHUNK_CHARS:
            cut = s.find("\n", pos + CHUNK_CHARS)
            if cut < 0:
                break
            yield s[pos : cut + 1]
            pos = cut + 1
        carry = s[pos:]
        if len(carry) > 8 * CHUNK_CHARS:  # text without newlines: cut anyway
            yield carry
            carry = ""
    if carry:
        yield carry
