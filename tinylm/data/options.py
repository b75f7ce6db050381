"""What `tinylm tokenize` is asked to do: options, their defaults and range rules; stdlib only.

The CLI reads defaults and rules from here (so `tinylm tokenize --help` imports neither torch nor
`tokenizers`) and refuses bad values before any work; `tokenize_corpus` applies the same rules
for direct callers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tinylm.data.vocab import MAX_VOCAB_SIZE
from tinylm.errors import UsageError

ERRORS = ("strict", "replace")  # invalid UTF-8: stop with an error, or replace it with U+FFFD


@dataclass(frozen=True)
class ReadOptions:
    """How text is decoded and cleaned."""

    errors: str = "strict"  # one of ERRORS
    text_field: str = "text"  # the field holding the text in .jsonl records
    strip_gutenberg: bool = False


@dataclass(frozen=True)
class TokenizeOptions:
    """Everything `tokenize_corpus` needs besides inputs and output."""

    kind: str = "bpe"
    vocab_size: int | None = None  # None: DEFAULT_VOCAB_SIZE if trained, else the alphabet's
    min_frequency: int = 2
    val_fraction: float = 0.1
    seed: int = 0
    tokenizer_path: Path | None = None  # reuse this tokenizer.json instead of building one
    read: ReadOptions = field(default_factory=ReadOptions)

    @property
    def needs_alphabet(self) -> bool:
        """Whether the tokenizer to build needs the corpus alphabet (byte-level kinds do not)."""
        return self.tokenizer_path is None and self.kind not in ("bpe", "byte")


# field -> (what a value must satisfy, how to say it when it does not)
RANGES: dict[str, tuple[Callable[[float], bool], str]] = {
    "val_fraction": (lambda v: 0.0 < v < 1.0, "must be between 0 and 1 (exclusive)"),
    "min_frequency": (lambda v: v >= 1, "must be at least 1"),
    "vocab_size": (
        lambda v: 1 <= v <= MAX_VOCAB_SIZE,
        f"is out of range; use 1 to {MAX_VOCAB_SIZE:,}",
    ),
}


def range_problem(name: str, value: float | None) -> str | None:
    """What is wrong with `value` for the option field `name`; None when it is fine."""
    ok, requirement = RANGES[name]
    return None if value is None or ok(value) else f"{value} {requirement}"


def check_range(name: str, value: float | None) -> None:
    """Raise a UsageError naming the option when `value` breaks its range rule."""
    problem = range_problem(name, value)
    if problem is not None:
        raise UsageError(f"--{name.replace('_', '-')} {problem}.")


def check_options(opts: TokenizeOptions) -> None:
    """Reject impossible option values before any work (the vocabulary size is checked when it is
    resolved against the tokenizer kind)."""
    check_range("val_fraction", opts.val_fraction)
    check_range("min_frequency", opts.min_frequency)
    if opts.read.errors not in ERRORS:
        raise UsageError(f"--errors {opts.read.errors!r} must be 'strict' or 'replace'.")
