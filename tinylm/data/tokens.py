"""Token files written by `tinylm tokenize`: load and check them, and cut them into batches."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tinylm.data.meta import SPLITS
from tinylm.data.tokenizer import file_sha256, load_tokenizer
from tinylm.errors import TinylmError

CHECK_CHUNK = 1 << 24  # ids per step of the vocabulary check: 32-64 MB of the memory map
REQUIRED = ("meta.json", "tokenizer.json", *(f"{name}.bin" for name in SPLITS))


@dataclass
class TokenData:
    """A tokenized corpus: its meta, tokenizer file and memory-mapped splits."""

    root: Path
    meta: dict
    train: np.ndarray
    val: np.ndarray

    @property
    def tokenizer_path(self) -> Path:
        return self.root / "tokenizer.json"

    @property
    def vocab_size(self) -> int:
        return int(self.meta["vocab_size"])

    @property
    def bytes_per_token(self) -> float:
        """UTF-8 bytes per val token, to turn nats per token into bits per byte."""
        val = self.meta["splits"]["val"]
        return val["bytes"] / max(val["tokens"], 1)


def is_token_dir(path: Path) -> bool:
    """Whether `path` looks like the output of `tinylm tokenize`."""
    return path.is_dir() and (path / "meta.json").is_file()


def load_token_dir(path: Path) -> TokenData:
    """Open a token directory, checking its files against meta.json and the tokenizer, and every
    id against the vocabulary, so bad data fails here rather than deep inside training."""
    missing = [name for name in REQUIRED if not (path / name).is_file()]
    if missing:
        raise TinylmError(
            f"{path} is not a complete `tinylm tokenize` output (missing {', '.join(missing)})."
        )
    meta, dtype, expected = _read_meta(path / "meta.json")
    if file_sha256(path / "tokenizer.json") != meta["tokenizer"]["sha256"]:
        raise TinylmError(
            f"{path / 'tokenizer.json'} does not match meta.json (SHA-256 differs): the token "
            "files were made with another tokenizer; run `tinylm tokenize` again."
        )
    actual = load_tokenizer(path / "tokenizer.json").get_vocab_size()
    if actual != meta["vocab_size"]:
        raise TinylmError(
            f"{path / 'meta.json'} says the vocabulary has {meta['vocab_size']} ids but "
            f"tokenizer.json has {actual}; run `tinylm tokenize` again."
        )
    splits = {name: _open_split(path / f"{name}.bin", dtype, n) for name, n in expected.items()}
    for name, ids in splits.items():
        check_ids(path / f"{name}.bin", ids, actual)
    return TokenData(path, meta, splits["train"], splits["val"])


def _read_meta(file: Path) -> tuple[dict, np.dtype, dict[str, int]]:
    """meta.json, its token dtype and the token count of each split, all checked for sense."""
    try:
        meta = json.loads(file.read_text(encoding="utf-8"))
        dtype = np.dtype(meta["dtype"])
        expected = {name: int(meta["splits"][name]["tokens"]) for name in SPLITS}
        vocab = meta["vocab_size"]
        if not isinstance(meta["tokenizer"]["sha256"], str):
            raise TypeError("tokenizer.sha256 is not a string")
        if dtype not in (np.uint16, np.uint32):
            raise ValueError(f"dtype {dtype} is not uint16 or uint32")
        if not isinstance(vocab, int) or vocab <= 0:
            raise ValueError(f"vocab_size {vocab!r} is not a positive whole number")
        if min(expected.values()) < 0:
            raise ValueError("a negative token count")
    except (ValueError, KeyError, TypeError) as e:
        raise TinylmError(f"{file} is corrupt ({e}); run `tinylm tokenize` again.") from e
    return meta, dtype, expected


def _open_split(file: Path, dtype: np.dtype, tokens: int) -> np.ndarray:
    """Memory-map one split's ids after checking the file's size against meta.json."""
    size = file.stat().st_size
    if size % dtype.itemsize:
        raise TinylmError(
            f"{file} is {size:,} bytes, not a whole number of {dtype} ids ({dtype.itemsize} "
            "bytes each): it is truncated or corrupt; run `tinylm tokenize` again."
        )
    if size != tokens * dtype.itemsize:
        raise TinylmError(
            f"{file} holds {size // dtype.itemsize:,} tokens but meta.json says {tokens:,}; "
            "run `tinylm tokenize` again."
        )
    if size == 0:  # mmap refuses an empty file
        return np.zeros(0, dtype=dtype)
    return np.memmap(file, dtype=dtype, mode="r")


def check_ids(file: Path, ids: np.ndarray, vocab_size: int) -> None:
    """Every id must be below `vocab_size`: one pass over the memory map, in chunks."""
    for start in range(0, len(ids), CHECK_CHUNK):
        chunk = np.asarray(ids[start : start + CHECK_CHUNK])
        if int(chunk.max()) >= vocab_size:
            where = start + int(np.argmax(chunk >= vocab_size))
            raise TinylmError(
                f"{file} holds id {int(ids[where])} at token {where:,}, outside the vocabulary "
                f"of {vocab_size} (ids 0-{vocab_size - 1}): the file is corrupt or was made "
                "with another tokenizer; run `tinylm tokenize` again."
            )


def shard(data: np.ndarray, rank: int, world: int) -> np.ndarray:
    """The contiguous slice of `data` that one of `world` ranks reads, disjoint from the others."""
    n = len(data) // world
    return data[rank * n : (rank + 1) * n]


def random_windows(
    data: np.ndarray, batch: int, length: int, generator: torch.Generator
) -> torch.Tensor:
    """`batch` windows of `length` tokens at random offsets: (batch, length) int64."""
    starts = torch.randint(0, len(data) - length + 1, (batch,), generator=generator).tolist()
    return torch.from_numpy(np.stack([data[s : s + length] for s in starts], dtype=np.int64))


def fixed_windows(data: np.ndarray, length: int, max_windows: int) -> torch.Tensor:
    """Non-overlapping windows from the start of `data`, the same every call: (N, length)."""
    n = min(len(data) // length, max_windows)
    if n == 0:
        raise TinylmError(
            f"the val split has {len(data)} tokens, fewer than one window of {length}; "
            "lower --block-size or raise --val-fraction when tokenizing."
        )
    return torch.from_numpy(data[: n * length].astype(np.int64).reshape(n, length))
