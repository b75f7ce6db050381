"""`tinylm tokenize`: corpus -> tokenizer.json, train.bin, val.bin and meta.json, streamed.

Three passes over the corpus, none of which holds it whole: a scan (document sizes, alphabet),
tokenizer training (trained kinds only), and encoding in parallel batches straight to disk.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

import numpy as np

from tinylm import __version__
from tinylm.atomic import atomic_dir
from tinylm.data.corpus import ReadOptions, Source, iter_documents, make_sources, resolve_inputs
from tinylm.data.tokenizer import (
    build_tokenizer,
    file_sha256,
    load_tokenizer,
    resolve_vocab_size,
    special_token_ids,
    tokenizer_kind,
)
from tinylm.data.vocab import EOS_ID, TRAINED_KINDS
from tinylm.errors import TinylmError, UsageError

FORMAT_VERSION = 1
CHUNK_CHARS = 16 << 10  # one encode_batch item; cut at a newline so words stay whole
BATCH_CHARS = 2 << 20  # text handed to one encode_batch call


class Progress(Protocol):
    """Receives progress; the CLI draws it, the library never prints."""

    def stage(self, name: str, total: int) -> None: ...

    def advance(self, n: int) -> None: ...


class _NoProgress:
    def stage(self, name: str, total: int) -> None:
        pass

    def advance(self, n: int) -> None:
        pass


@dataclass(frozen=True)
class TokenizeOptions:
    """Everything `tokenize_corpus` needs besides inputs and output."""

    kind: str = "bpe"
    vocab_size: int | None = None
    min_frequency: int = 2
    val_fraction: float = 0.1
    seed: int = 0
    tokenizer_path: Path | None = None
    read: ReadOptions = field(default_factory=ReadOptions)


@dataclass
class SplitStats:
    """Documents, UTF-8 bytes and tokens written to one split."""

    documents: int = 0
    bytes: int = 0
    tokens: int = 0


def check_options(opts: TokenizeOptions) -> None:
    """Reject impossible option values before any work."""
    if not 0.0 < opts.val_fraction < 1.0:
        raise UsageError(f"--val-fraction {opts.val_fraction} must be between 0 and 1 (exclusive).")
    if opts.min_frequency < 1:
        raise UsageError(f"--min-frequency {opts.min_frequency} must be at least 1.")
    if opts.read.errors not in ("strict", "replace"):
        raise UsageError(f"--errors {opts.read.errors!r} must be 'strict' or 'replace'.")


def _scan(
    sources: list[Source], read: ReadOptions, progress: Progress, need_alphabet: bool
) -> tuple[list[int], set]:
    """Bytes of each document, and the corpus alphabet when the tokenizer kind needs it."""
    sizes: list[int] = []
    alphabet: set[str] = set()
    for doc in iter_documents(sources, read, progress.advance):
        n = 0
        for text in doc:
            n += len(text.encode("utf-8"))
            if need_alphabet:  # 30x the cost of the byte count, and bpe/byte never use it
                alphabet.update(text)
        sizes.append(n)
    return sizes, alphabet


def _choose_val(sizes: list[int], fraction: float, seed: int) -> np.ndarray | int:
    """Val documents (a boolean mask) when there are several; else the byte offset of a tail cut."""
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


def _chunks(pieces: Iterable[str]) -> Iterator[str]:
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


class _SplitWriter:
    """Buffers text chunks of one split and writes their ids to a .bin file in batches."""

    def __init__(self, tokenizer, path: Path, dtype: np.dtype) -> None:
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
            ids.tofile(self.file)
            self.stats.tokens += len(ids)
        self.queue, self.queued = [], 0

    def close(self) -> None:
        self.flush()
        self.file.close()


def _encode(
    sources: list[Source],
    opts: TokenizeOptions,
    tokenizer,
    split: np.ndarray | int,
    out: Path,
    dtype: np.dtype,
    progress: Progress,
) -> dict[str, SplitStats]:
    writers = {
        name: _SplitWriter(tokenizer, out / f"{name}.bin", dtype) for name in ("train", "val")
    }
    tokenizer.encode_special_tokens = True  # "[MASK]" written in the corpus is text, not a special
    try:
        for i, doc in enumerate(iter_documents(sources, opts.read, progress.advance)):
            if isinstance(split, np.ndarray):
                routed = ((("val" if split[i] else "train"), chunk) for chunk in _chunks(doc))
            else:
                routed = (
                    (name, c) for name, text in _tail_cut(doc, split) for c in _chunks([text])
                )
            used = set()
            for name, chunk in routed:
                writers[name].add(chunk)
                used.add(name)
            for name in sorted(used):  # a document cut in two ends in each split
                writers[name].end_document()
    finally:
        for w in writers.values():
            w.close()
        tokenizer.encode_special_tokens = False
    return {name: w.stats for name, w in writers.items()}


def tokenize_corpus(
    inputs: list[str],
    out: Path,
    opts: TokenizeOptions,
    force: bool = False,
    progress: Progress | None = None,
    stdin: BinaryIO | None = None,
) -> dict:
    """Write tokenizer.json, train.bin, val.bin and meta.json to `out`; return the meta."""
    check_options(opts)
    progress = progress or _NoProgress()
    started = time.perf_counter()
    resolved = resolve_inputs(inputs)
    with atomic_dir(out, force) as tmp:
        sources = make_sources(resolved, tmp, stdin or sys.stdin.buffer)
        disk_bytes = sum(s.size for s in sources)

        progress.stage("scan", disk_bytes)
        need_alphabet = opts.tokenizer_path is None and opts.kind not in ("bpe", "byte")
        sizes, alphabet = _scan(sources, opts.read, progress, need_alphabet)
        if sum(sizes) == 0:
            raise TinylmError("the corpus is empty: the inputs hold no text.")
        split = _choose_val(sizes, opts.val_fraction, opts.seed)

        tok_path = tmp / "tokenizer.json"
        if opts.tokenizer_path is not None:
            tokenizer = load_tokenizer(opts.tokenizer_path)
            shutil.copyfile(opts.tokenizer_path, tok_path)
            kind = tokenizer_kind(tokenizer)
        else:
            kind = opts.kind
            vocab_size = resolve_vocab_size(kind, opts.vocab_size, alphabet)
            if kind in TRAINED_KINDS:
                progress.stage("train tokenizer", disk_bytes)
            # small items keep the trainer's internal buffering bounded
            docs = iter_documents(sources, opts.read, progress.advance)
            texts = (chunk for doc in docs for chunk in _chunks(doc))
            tokenizer = build_tokenizer(kind, texts, vocab_size, opts.min_frequency, alphabet)
            tokenizer.save(str(tok_path))
        vocab = tokenizer.get_vocab_size()
        dtype = np.dtype(np.uint16 if vocab <= 1 << 16 else np.uint32)

        progress.stage("encode", disk_bytes)
        stats = _encode(sources, opts, tokenizer, split, tmp, dtype, progress)
        for name, s in stats.items():
            if s.tokens == 0:
                raise UsageError(
                    f"--val-fraction {opts.val_fraction} leaves the {name} split empty; "
                    "choose another fraction or add text."
                )
        (tmp / "stdin.txt").unlink(missing_ok=True)
        meta = {
            "format_version": FORMAT_VERSION,
            "tinylm_version": __version__,
            "tokenizer": {"kind": kind, "sha256": file_sha256(tok_path), "vocab_size": vocab},
            "vocab_size": vocab,
            "dtype": dtype.name,
            "special_tokens": special_token_ids(),
            "documents": sum(1 for n in sizes if n > 0),
            "splits": {name: asdict(s) for name, s in stats.items()},
            "sources": [{"path": s.name, "bytes": s.size} for s in sources],
            "val_fraction": opts.val_fraction,
            "seed": opts.seed,
            "seconds": round(time.perf_counter() - started, 3),
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta
