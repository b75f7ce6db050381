"""Corpus readers: files, directories, globs, .gz, .jsonl and stdin -> streams of normalised text.

Nothing here holds a whole file: text is read in blocks and yielded as pieces, one document at a
time. A document is a file, or one record of a JSONL file.
"""

from __future__ import annotations

import codecs
import glob
import gzip
import importlib.resources
import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from tinylm.data.options import ReadOptions
from tinylm.data.text import normalise, strip_gutenberg
from tinylm.errors import TinylmError, UsageError

BLOCK = 1 << 20  # bytes read at a time
TEXT_SUFFIXES = (".txt", ".text", ".md", ".markdown", ".rst", ".jsonl")
STDIN = "-"
STDIN_SPOOL = "stdin.txt"  # stdin is copied to this file so it can be read more than once

ByteCallback = Callable[[int], None]


@dataclass(frozen=True)
class Source:
    """One input file: where it is, how to show it, and how to read it."""

    path: Path
    name: str
    size: int
    gzip: bool
    jsonl: bool


def bundled_corpus() -> Path:
    """Path of the bundled Shakespeare corpus, in the installed wheel or the source tree."""
    packaged = importlib.resources.files("tinylm") / "_data" / "shakespeare.txt"
    if packaged.is_file():
        return Path(str(packaged))
    source_tree = Path(__file__).resolve().parents[2] / "data" / "shakespeare.txt"
    if source_tree.is_file():
        return source_tree
    raise TinylmError("the bundled corpus is missing from this installation; reinstall tinylm.")


def _source(path: Path, name: str | None = None) -> Source:
    if not os.access(path, os.R_OK):
        raise TinylmError(f"cannot read {path}: permission denied.")
    suffixes = [s.lower() for s in path.suffixes]
    is_gz = bool(suffixes) and suffixes[-1] == ".gz"
    inner = suffixes[-2] if is_gz and len(suffixes) > 1 else (suffixes[-1] if suffixes else "")
    return Source(path, name or str(path), path.stat().st_size, is_gz, inner == ".jsonl")


def _is_text_file(path: Path) -> bool:
    name = path.name.lower()
    name = name[:-3] if name.endswith(".gz") else name
    return name.endswith(TEXT_SUFFIXES)


def _expand_dir(root: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in sorted(filenames):
            p = Path(dirpath) / f
            if not f.startswith(".") and _is_text_file(p) and p.is_file():
                found.append(p)
    if not found:
        raise TinylmError(
            f"{root} contains no text files ({', '.join(TEXT_SUFFIXES)}, optionally .gz)."
        )
    return found


def resolve_inputs(inputs: Iterable[str]) -> list[str | Path]:
    """Expand inputs to files in a stable order; `-` stays as a marker for stdin."""
    resolved: list[str | Path] = []
    for arg in inputs:
        if arg == STDIN:
            resolved.append(STDIN)
            continue
        p = Path(arg).expanduser()
        if p.is_dir():
            resolved.extend(_expand_dir(p))
        elif p.exists():
            resolved.append(p)
        elif glob.has_magic(arg):
            matches = sorted(Path(m) for m in glob.glob(arg, recursive=True))
            files = [m for m in matches if m.is_file()]
            for d in (m for m in matches if m.is_dir()):
                files.extend(_expand_dir(d))
            if not files:
                raise UsageError(f"no file matches {arg!r}; check the pattern.")
            resolved.extend(files)
        else:
            raise UsageError(f"input {arg!r} does not exist; check the path.")
    seen: set[Path] = set()
    unique: list[str | Path] = []
    for r in resolved:  # the same file named twice is read once
        key = r.resolve() if isinstance(r, Path) else None
        if key is None or key not in seen:
            unique.append(r)
            if key is not None:
                seen.add(key)
    return unique


def make_sources(resolved: list[str | Path], spool_dir: Path, stdin: BinaryIO) -> list[Source]:
    """Turn resolved inputs into sources; stdin is copied to `spool_dir` so it can be read twice."""
    sources = []
    for r in resolved:
        if r == STDIN:
            spool = spool_dir / STDIN_SPOOL
            with open(spool, "wb") as f:
                shutil.copyfileobj(stdin, f, BLOCK)
            sources.append(_source(spool, "<stdin>"))
        else:
            sources.append(_source(Path(r)))
    return sources


def disk_bytes(sources: Iterable[Source]) -> int:
    """On-disk bytes of all sources: the total that one pass's progress counts up to."""
    return sum(s.size for s in sources)


def _raw_blocks(src: Source, on_bytes: ByteCallback | None) -> Iterator[bytes]:
    """Decompressed blocks of a file; `on_bytes` gets the on-disk bytes consumed."""
    try:
        with open(src.path, "rb") as raw:
            stream: BinaryIO = gzip.GzipFile(fileobj=raw) if src.gzip else raw  # type: ignore[assignment]
            last = 0
            while True:
                try:
                    block = stream.read(BLOCK)
                except (OSError, EOFError) as e:
                    raise TinylmError(f"{src.name}: cannot decompress ({e}).") from e
                if on_bytes is not None:
                    pos = raw.tell()
                    on_bytes(pos - last)
                    last = pos
                if not block:
                    return
                yield block
    except PermissionError as e:
        raise TinylmError(f"cannot read {src.name}: permission denied.") from e
    except IsADirectoryError as e:
        raise TinylmError(f"{src.name} is a directory where a file was expected.") from e


def _decode(blocks: Iterable[bytes], name: str, errors: str) -> Iterator[str]:
    """UTF-8 decode with the absolute byte offset of the first bad byte in the error."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors=errors)
    offset = 0  # bytes of the stream fed to the decoder so far
    for block in blocks:
        nul = block.find(b"\x00")
        if nul >= 0:
            raise TinylmError(
                f"{name} looks like a binary file (NUL byte at offset {offset + nul}); "
                "pass text files only."
            )
        pending = len(decoder.getstate()[0])
        try:
            text = decoder.decode(block)
        except UnicodeDecodeError as e:
            raise _utf8_error(name, offset - pending + e.start) from e
        offset += len(block)
        if text:
            yield text
    pending = len(decoder.getstate()[0])
    try:
        tail = decoder.decode(b"", final=True)
    except UnicodeDecodeError as e:
        raise _utf8_error(name, offset - pending + e.start) from e
    if tail:
        yield tail


def _utf8_error(name: str, offset: int, line: int | None = None) -> TinylmError:
    where = f"line {line}, " if line is not None else ""
    return TinylmError(
        f"{name}: invalid UTF-8 at {where}byte offset {offset}; "
        "fix the file or pass --errors replace."
    )


def _text_document(src: Source, opts: ReadOptions, on_bytes: ByteCallback | None) -> Iterator[str]:
    pieces = normalise(_decode(_raw_blocks(src, on_bytes), src.name, opts.errors))
    return strip_gutenberg(pieces) if opts.strip_gutenberg else pieces


def _jsonl_documents(
    src: Source, opts: ReadOptions, on_bytes: ByteCallback | None
) -> Iterator[str]:
    """Each JSONL record's text field, normalised; errors name the file and line."""
    carry = b""
    lineno = 0
    offset = 0
    for block in _raw_blocks(src, on_bytes):
        lines = (carry + block).split(b"\n")
        carry = lines.pop()
        for raw in lines:
            lineno += 1
            text = _jsonl_record(src, opts, raw, lineno, offset)
            offset += len(raw) + 1
            if text:
                yield text
    if carry:
        text = _jsonl_record(src, opts, carry, lineno + 1, offset)
        if text:
            yield text


def _jsonl_record(src: Source, opts: ReadOptions, raw: bytes, lineno: int, offset: int) -> str:
    if b"\x00" in raw:
        raise TinylmError(f"{src.name} looks like a binary file (NUL byte on line {lineno}).")
    try:
        line = raw.decode("utf-8", errors=opts.errors)
    except UnicodeDecodeError as e:
        raise _utf8_error(src.name, offset + e.start, lineno) from e
    if lineno == 1:
        line = line.removeprefix("\ufeff")
    if not line.strip():
        return ""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as e:
        raise TinylmError(f"{src.name}, line {lineno}: not valid JSON ({e.msg}).") from e
    text = record.get(opts.text_field) if isinstance(record, dict) else None
    if not isinstance(text, str):
        raise TinylmError(
            f"{src.name}, line {lineno}: no string field {opts.text_field!r}; "
            "choose the field with --text-field."
        )
    return "".join(normalise([text]))


def iter_documents(
    sources: Iterable[Source], opts: ReadOptions, on_bytes: ByteCallback | None = None
) -> Iterator[Iterator[str]]:
    """Yield each document as an iterator of text pieces; consume each before the next."""
    for src in sources:
        if src.jsonl:
            for text in _jsonl_documents(src, opts, on_bytes):
                yield iter((text,))
        else:
            yield _text_document(src, opts, on_bytes)
