"""What `tinylm tokenize` is asked to do: options, their defaults and range rules; stdlib only.

The CLI reads defaults and rules from here (so `tinylm tokenize --help` imports neither torch nor
`tokenizers`) and refuses bad values before any work; TokenizeOptions checks the same ranges
when it is made, for direct callers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tinylm.bounds import SEED, Bounds, check_fields, check_value
from tinylm.data.vocab import MAX_VOCAB_SIZE
from tinylm.errors import UsageError

ERRORS = ("strict", "replace")  # invalid UTF-8: stop with an error, or replace it with U+FFFD
# the ranges of TokenizeOptions (also of the tokenize options); unset (None) always passes
TOKENIZE_BOUNDS = {
    "vocab_size": Bounds(1, MAX_VOCAB_SIZE, says=f"is out of range; use 1 to {MAX_VOCAB_SIZE:,}"),
    "min_frequency": Bounds(1),
    "val_fraction": Bounds(
        0.0, 1.0, low_open=True, high_open=True, says="must be between 0 and 1 (exclusive)"
    ),
    "seed": SEED,
}
OPTION_MESSAGE = "{flag} {problem}."  # a usage error names the option, as the user typed it


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

    def __post_init__(self) -> None:
        check_fields(self, TOKENIZE_BOUNDS, UsageError, OPTION_MESSAGE)

    @property
    def needs_alphabet(self) -> bool:
        """Whether the tokenizer to build needs the corpus alphabet (byte-level kinds do not)."""
        return self.tokenizer_path is None and self.kind not in ("bpe", "byte")


def check_range(name: str, value: float | None) -> None:
    """Raise a UsageError naming the option when `value` is outside its TOKENIZE_BOUNDS."""
    check_value(name, value, TOKENIZE_BOUNDS[name], UsageError, OPTION_MESSAGE)


def check_options(opts: TokenizeOptions) -> None:
    """Reject what TokenizeOptions cannot check itself (its ranges are checked when it is made)."""
    if opts.read.errors not in ERRORS:
        raise UsageError(f"--errors {opts.read.errors!r} must be 'strict' or 'replace'.")
