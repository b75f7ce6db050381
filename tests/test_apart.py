"""Tokenizing raw text for a training run in a child process (tinylm/data/apart.py): the same
files as tokenizing here, every option carried across, errors back as the same exceptions (an
OSError with its errno: tests/test_hostile_data.py's full disk under `tinylm train TEXT`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tinylm.data.apart import tokenize_apart
from tinylm.data.options import ReadOptions, TokenizeOptions
from tinylm.data.prepare import tokenize_corpus
from tinylm.errors import TinylmError, UsageError

FILES = ("tokenizer.json", "train.bin", "val.bin")


def _records(path: Path) -> Path:
    lines = [
        {"body": f"record {i}: the cat sat on the mat, and the dog ran.\n"} for i in range(300)
    ]
    lines.insert(7, {"body": "bad \udcff byte"})  # a lone surrogate: invalid UTF-8 once written
    path.write_bytes(
        b"".join(
            json.dumps(r, ensure_ascii=False).encode("utf-8", "surrogateescape") + b"\n"
            for r in lines
        )
    )
    return path


def test_the_child_writes_what_tokenizing_here_writes(tmp_path: Path) -> None:
    corpus = _records(tmp_path / "corpus.jsonl")
    opts = TokenizeOptions(
        kind="bpe",
        vocab_size=300,
        min_frequency=3,
        val_fraction=0.2,
        seed=5,
        read=ReadOptions(errors="replace", text_field="body"),
    )
    tokenize_apart([str(corpus)], tmp_path / "apart", opts)
    tokenize_corpus([str(corpus)], tmp_path / "here", opts)
    for name in FILES:
        assert (tmp_path / "apart" / name).read_bytes() == (tmp_path / "here" / name).read_bytes()
    meta = json.loads((tmp_path / "apart" / "meta.json").read_text())
    assert meta["tokenizer"]["vocab_size"] == 300


class _Recorder:
    """A Progress that keeps every stage with the bytes advanced in it."""

    def __init__(self) -> None:
        self.stages: list[list] = []

    def stage(self, name: str, total: int) -> None:
        self.stages.append([name, total, 0])

    def advance(self, n: int) -> None:
        self.stages[-1][2] += n


def test_the_childs_progress_reaches_the_caller(tmp_path: Path) -> None:
    corpus = tmp_path / "a.txt"
    corpus.write_text("a line of words that the tokenizer learns from.\n" * 3000)
    opts = TokenizeOptions(kind="bpe", vocab_size=300)
    apart, here = _Recorder(), _Recorder()
    tokenize_apart([str(corpus)], tmp_path / "apart", opts, apart)
    tokenize_corpus([str(corpus)], tmp_path / "here", opts, progress=here)
    size = corpus.stat().st_size
    # every stage arrives with its total, and its advances summed: nothing lost in batching
    assert apart.stages == here.stages
    assert [name for name, _, _ in apart.stages] == ["scan", "train tokenizer", "encode"]
    assert all(total == size and done == size for _, total, done in apart.stages)


def test_a_given_tokenizer_crosses_too(tmp_path: Path) -> None:
    corpus = tmp_path / "a.txt"
    corpus.write_text("some words, and some more words.\n" * 200)
    tokenize_corpus([str(corpus)], tmp_path / "first", TokenizeOptions(kind="char"))
    opts = TokenizeOptions(tokenizer_path=tmp_path / "first" / "tokenizer.json")
    tokenize_apart([str(corpus)], tmp_path / "again", opts)
    for name in FILES:
        assert (tmp_path / "again" / name).read_bytes() == (tmp_path / "first" / name).read_bytes()


def test_errors_come_back_as_raised(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(TinylmError) as apart:
        tokenize_apart([str(empty)], tmp_path / "out", TokenizeOptions())
    with pytest.raises(TinylmError) as here:
        tokenize_corpus([str(empty)], tmp_path / "out", TokenizeOptions())
    assert (type(apart.value), str(apart.value)) == (type(here.value), str(here.value))
    # an option the child refuses comes back as a usage error, its message intact
    with pytest.raises(UsageError, match="--errors 'loose'"):
        opts = TokenizeOptions(read=ReadOptions(errors="loose"))
        tokenize_apart([str(empty)], tmp_path / "out", opts)
    assert not (tmp_path / "out").exists()
