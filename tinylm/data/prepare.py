"""`tinylm tokenize`: corpus -> tokenizer.json, train.bin, val.bin and meta.json, streamed.

Three passes over the corpus, none of which holds it whole: a scan (document sizes, alphabet),
tokenizer training (trained kinds only), and encoding in parallel batches straight to disk.
Everything is written into a temporary directory that replaces the output only when complete.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import BinaryIO, Protocol

from tokenizers import Tokenizer

from tinylm.atomic import atomic_dir, check_out_clear
from tinylm.data.corpus import (
    STDIN_SPOOL,
    Source,
    disk_bytes,
    iter_documents,
    make_sources,
    resolve_inputs,
)
from tinylm.data.encode import encode_corpus, token_dtype
from tinylm.data.meta import build_meta, write_meta
from tinylm.data.options import TokenizeOptions, check_options
from tinylm.data.scan import scan_corpus
from tinylm.data.split import check_not_empty, choose_val
from tinylm.data.text import chunks
from tinylm.data.tokenizer import (
    build_tokenizer,
    file_sha256,
    load_tokenizer,
    resolve_vocab_size,
    tokenizer_kind,
)
from tinylm.data.vocab import TRAINED_KINDS


class Progress(Protocol):
    """Receives progress; the CLI draws it, the library never prints."""

    def stage(self, name: str, total: int) -> None: ...

    def advance(self, n: int) -> None: ...


class _NoProgress:
    def stage(self, name: str, total: int) -> None:
        pass

    def advance(self, n: int) -> None:
        pass


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
    check_out_clear(out, [*inputs, *resolved, opts.tokenizer_path])
    with atomic_dir(out, force) as tmp:
        sources = make_sources(resolved, tmp, stdin or sys.stdin.buffer)
        progress.stage("scan", disk_bytes(sources))
        scan = scan_corpus(sources, opts.read, progress.advance, opts.needs_alphabet)
        split = choose_val(scan.sizes, opts.val_fraction, opts.seed)
        tok_path = tmp / "tokenizer.json"
        tokenizer, kind = _tokenizer(opts, sources, scan.alphabet, tok_path, progress)
        vocab = tokenizer.get_vocab_size()
        dtype = token_dtype(vocab)

        progress.stage("encode", disk_bytes(sources))
        docs = iter_documents(sources, opts.read, progress.advance)
        stats = encode_corpus(docs, split, tokenizer, tmp, dtype)
        check_not_empty({name: s.tokens for name, s in stats.items()}, opts.val_fraction)
        (tmp / STDIN_SPOOL).unlink(missing_ok=True)
        meta = build_meta(
            tokenizer={"kind": kind, "sha256": file_sha256(tok_path), "vocab_size": vocab},
            dtype=dtype,
            documents=scan.documents,
            splits=stats,
            sources=sources,
            opts=opts,
            seconds=time.perf_counter() - started,
        )
        write_meta(tmp, meta)
    return meta


def _tokenizer(
    opts: TokenizeOptions, sources: list[Source], alphabet: set[str], path: Path, progress: Progress
) -> tuple[Tokenizer, str]:
    """The given tokenizer, or one built from the corpus, saved to `path`; and its kind."""
    if opts.tokenizer_path is not None:
        tokenizer = load_tokenizer(opts.tokenizer_path)
        shutil.copyfile(opts.tokenizer_path, path)
        return tokenizer, tokenizer_kind(tokenizer)
    vocab_size = resolve_vocab_size(opts.kind, opts.vocab_size, alphabet)
    if opts.kind in TRAINED_KINDS:
        progress.stage("train tokenizer", disk_bytes(sources))
    # small items keep the trainer's internal buffering bounded
    docs = iter_documents(sources, opts.read, progress.advance)
    texts = (chunk for doc in docs for chunk in chunks(doc))
    tokenizer = build_tokenizer(opts.kind, texts, vocab_size, opts.min_frequency, alphabet)
    # written by Python, not tokenizer.save: a full disk then raises an OSError with its errno
    path.write_text(tokenizer.to_str(pretty=True), encoding="utf-8")
    return tokenizer, opts.kind
