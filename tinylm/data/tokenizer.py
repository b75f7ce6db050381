"""Train, load and check `tokenizers` tokenizers with fixed special ids shared by both families."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

from tinylm.data.options import check_range
from tinylm.data.vocab import BYTE_VOCAB_SIZE, DEFAULT_VOCAB_SIZE, KINDS, SPECIAL_TOKENS
from tinylm.errors import TinylmError, UsageError, first_line


def special_token_ids() -> dict[str, int]:
    """The fixed special-token ids, by token."""
    return {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}


def min_vocab_size(kind: str, alphabet: set[str]) -> int:
    """Smallest vocabulary that holds the specials and every symbol the kind must represent."""
    if kind in ("bpe", "byte"):
        return BYTE_VOCAB_SIZE
    if kind == "char":
        return len(SPECIAL_TOKENS) + len(alphabet)
    # WordPiece and Unigram split on whitespace first, so whitespace needs no token.
    return len(SPECIAL_TOKENS) + len({c for c in alphabet if not c.isspace()})


def resolve_vocab_size(kind: str, requested: int | None, alphabet: set[str]) -> int:
    """Check a requested vocabulary size against the kind and the corpus alphabet."""
    check_range("vocab_size", requested)
    lowest = min_vocab_size(kind, alphabet)
    if kind == "byte":
        if requested is not None and requested != BYTE_VOCAB_SIZE:
            raise UsageError(
                f"the byte tokenizer has a fixed vocabulary of {BYTE_VOCAB_SIZE}; "
                "drop --vocab-size."
            )
        return BYTE_VOCAB_SIZE
    if kind == "char":
        size = lowest if requested is None else requested
    else:
        size = DEFAULT_VOCAB_SIZE if requested is None else requested
    if size < lowest:
        raise UsageError(
            f"--vocab-size {size} is too small for the {kind} tokenizer on this corpus: it needs "
            f"at least {lowest} ({len(SPECIAL_TOKENS)} special tokens plus the alphabet)."
        )
    return size if kind != "char" else lowest


def _char_tokenizer(alphabet: set[str]) -> Tokenizer:
    vocab = special_token_ids()
    for ch in sorted(alphabet):
        vocab[ch] = len(vocab)
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    return tok


def _byte_tokenizer() -> Tokenizer:
    vocab = special_token_ids()
    for ch in sorted(pre_tokenizers.ByteLevel.alphabet()):
        vocab[ch] = len(vocab)
    tok = Tokenizer(models.BPE(vocab, []))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    return tok


def build_tokenizer(
    kind: str,
    texts: Iterable[str],
    vocab_size: int,
    min_frequency: int,
    alphabet: set[str],
) -> Tokenizer:
    """Build a tokenizer of `kind`; trained kinds learn from `texts`, streamed."""
    common = {"vocab_size": vocab_size, "special_tokens": list(SPECIAL_TOKENS)}
    if kind == "char":
        tok = _char_tokenizer(alphabet)
    elif kind == "byte":
        tok = _byte_tokenizer()
    elif kind == "bpe":
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            min_frequency=min_frequency,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
            **common,
        )
        tok.train_from_iterator(texts, trainer)
    elif kind == "wordpiece":
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(
            min_frequency=min_frequency, show_progress=False, **common
        )
        tok.train_from_iterator(texts, trainer)
    elif kind == "unigram":
        tok = Tokenizer(models.Unigram())
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(unk_token="[UNK]", show_progress=False, **common)
        tok.train_from_iterator(texts, trainer)
    else:
        raise UsageError(f"unknown tokenizer kind {kind!r}; choose one of {', '.join(KINDS)}.")
    tok.add_special_tokens(list(SPECIAL_TOKENS))
    check_special_tokens(tok, kind)
    return tok


def check_special_tokens(tok: Tokenizer, name: str) -> None:
    """Require the fixed special tokens at their fixed ids."""
    wrong = [t for i, t in enumerate(SPECIAL_TOKENS) if tok.token_to_id(t) != i]
    if wrong:
        raise TinylmError(
            f"{name} lacks tinylm's special tokens at ids 0-4 ({', '.join(wrong)}); "
            "train a tokenizer with `tinylm tokenize` instead."
        )


def load_tokenizer(path: Path) -> Tokenizer:
    """Load a tokenizer.json and check its special tokens."""
    try:
        tok = Tokenizer.from_file(str(path))
    except FileNotFoundError as e:
        raise UsageError(f"tokenizer file {path} does not exist.") from e
    except Exception as e:  # the Rust loader raises a bare Exception for any malformed file
        raise TinylmError(f"{path} is not a tokenizer.json file ({first_line(e)}).") from e
    check_special_tokens(tok, str(path))
    return tok


@contextlib.contextmanager
def specials_as_text(tok: Tokenizer) -> Iterator[Tokenizer]:
    """Inside the block, "[MASK]" and the like written in the text are text, not special tokens."""
    tok.encode_special_tokens = True
    try:
        yield tok
    finally:
        tok.encode_special_tokens = False


def tokenizer_kind(tok: Tokenizer) -> str:
    """Name the kind of a tokenizer from its model (byte = byte-level BPE without merges)."""
    kind = {"BPE": "bpe", "WordPiece": "wordpiece", "Unigram": "unigram", "WordLevel": "char"}
    name = kind.get(type(tok.model).__name__, "other")  # not to_str(): 70 ms of JSON at 2048
    # byte-level BPE always holds all 256 bytes, so any merge adds a token past them
    if name == "bpe" and tok.get_vocab_size() <= 256 + len(SPECIAL_TOKENS):
        return "byte"
    return name


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
