"""Using a trained checkpoint: find it, load it with its tokenizer, encode prompts, stream text."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from tokenizers import Tokenizer

from tinylm.checkpoint import Checkpoint, load_checkpoint
from tinylm.data.tokenizer import load_tokenizer
from tinylm.data.vocab import SPECIAL_TOKENS, UNK_ID
from tinylm.errors import TinylmError, UsageError

REPLACEMENT = "\ufffd"  # what a decoder shows for an incomplete UTF-8 sequence
SETTLE_LIMIT = 8  # tokens a TextStream decodes at once while a character is unfinished


def resolve_checkpoint(path: Path, which: str = "best") -> Path:
    """A run directory's best/ or last/ checkpoint, or `path` itself if it is a checkpoint."""
    if not path.exists():  # a mistyped argument, not a broken file: exit 2
        raise UsageError(f"{path} does not exist; give a run directory or a checkpoint directory.")
    if (path / "config.json").is_file():
        return path
    if (path / which).is_dir():
        return path / which
    if which == "best" and (path / "last").is_dir():
        return path / "last"
    raise TinylmError(
        f"{path} is neither a checkpoint (no config.json) nor a run directory (no {which}/)."
    )


def fallback_note(path: Path, which: str, used: Path) -> str | None:
    """One line for the user when a run directory had no `which`/ and `used` stood in for it."""
    if used == path or used.name == which:
        return None
    try:
        step = f", step {json.loads((used / 'trainer_state.json').read_text())['step']}"
    except (OSError, ValueError, KeyError, TypeError):
        step = ""
    why = " (no evaluation saved one)" if which == "best" else ""
    return f"Note: {path} has no {which}/ checkpoint{why}; using {used.name}/{step}."


def load_for_inference(
    path: Path, which: str, device: torch.device
) -> tuple[Checkpoint, Tokenizer]:
    """The model (in eval mode, on `device`) and tokenizer of a run or checkpoint."""
    ckpt = load_checkpoint(resolve_checkpoint(path, which), device)
    ckpt.model.eval()
    tok = load_tokenizer(ckpt.tokenizer_path)  # a malformed file is one clear error
    if tok.get_vocab_size() != ckpt.config.vocab_size:
        raise TinylmError(
            f"{ckpt.tokenizer_path} has {tok.get_vocab_size()} tokens but the model expects "
            f"{ckpt.config.vocab_size}; the checkpoint is inconsistent."
        )
    return ckpt, tok


def encode_text(tok: Tokenizer, text: str, specials: bool = False) -> tuple[list[int], int]:
    """Token ids of `text` and how many became [UNK]; `specials` lets "[MASK]" be the special."""
    tok.encode_special_tokens = not specials
    try:
        ids = tok.encode(text, add_special_tokens=False).ids
    finally:
        tok.encode_special_tokens = False
    unknown = sum(1 for i in ids if i == UNK_ID) - (text.count("[UNK]") if specials else 0)
    return ids, max(unknown, 0)


def read_prompt_bytes(data: bytes, name: str) -> str:
    """Decode a prompt read from a file or stdin, with a clear error for bad input."""
    if not data:
        raise TinylmError(f"the prompt in {name} is empty.")  # the file's content: exit 1
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise TinylmError(f"{name}: invalid UTF-8 at byte offset {e.start}.") from e
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


class TextStream:
    """Turns generated ids into text pieces that are safe to print as they come.

    A byte-level tokenizer can end a step in the middle of a character, and the text so far may
    be the start of a stop string; both are held back until the next tokens settle them. Each
    step decodes only the tokens since the last settled point (and the ones before it, which
    some decoders need to place a space), so a long sample costs the same per token as a short one.
    """

    def __init__(self, tok: Tokenizer, stops: tuple[str, ...] = ()) -> None:
        self.tok = tok
        self.stops = tuple(s for s in stops if s)
        self.count = 0  # tokens pushed
        self.stopped = False
        self._pieces: list[str] = []  # the text handed out (joined on demand: appends stay cheap)
        self._pending = ""  # decoded text held back: it may begin a stop string
        self._window: list[int] = []  # context tokens, then tokens not fully decoded yet
        self._context = 0  # how many of the window's tokens are context
        self._decoded = 0  # characters of the window's text already passed on to _pending

    @property
    def text(self) -> str:
        """The text handed out so far (after finish(): the whole sample, cut at a stop string)."""
        return "".join(self._pieces)

    def push(self, token: int) -> str:
        """Add one token; return the newly printable text ('' if nothing is settled yet)."""
        if self.stopped:
            return ""
        self.count += 1
        pending = self._pending + self._decode_step(token)
        cut = min((i for i in (pending.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped = True
            self._clear()
            return self._hand(pending[:cut])
        safe = len(pending)
        for s in self.stops:  # a tail that could still grow into a stop string stays back
            for k in range(min(len(s) - 1, len(pending)), 0, -1):
                if pending.endswith(s[:k]):
                    safe = min(safe, len(pending) - k)
                    break
        self._pending = pending[safe:]
        return self._hand(pending[:safe])

    def finish(self, complete_only: bool = False) -> str:
        """Everything not yet handed out; `complete_only` drops an unfinished last character
        (a sample cut short), otherwise it shows as U+FFFD as in a whole decode."""
        rest = self._pending + self._decode(self._window)[self._decoded :]
        self._clear()
        return self._hand(rest.removesuffix(REPLACEMENT) if complete_only else rest)

    def _decode(self, ids: list[int]) -> str:
        text = self.tok.decode(ids, skip_special_tokens=False)
        for special in SPECIAL_TOKENS:  # a sample shows no control tokens
            text = text.replace(special, "")
        return text

    def _decode_step(self, token: int) -> str:
        """The text that `token` settles. An unfinished UTF-8 sequence decodes to one trailing
        U+FFFD: it waits for the tokens that finish (or break) it."""
        self._window.append(token)
        text = self._decode(self._window)
        wait = text.endswith(REPLACEMENT)
        end = len(text) - wait
        new = text[self._decoded : end]
        self._decoded = max(self._decoded, end)
        if not wait:  # all decoded: the next window starts here, after these tokens as context
            self._window = self._window[self._context :]
            self._context, self._decoded = len(self._window), len(self._decode(self._window))
        elif len(self._window) - self._context >= SETTLE_LIMIT:  # a run of invalid bytes
            # keep only tokens that hold the unfinished sequence (3 bytes at most); it begins at
            # a lead byte, where a decode of any suffix also begins a character
            self._window, self._context = self._window[-3:], 0
            self._decoded = len(self._decode(self._window).removesuffix(REPLACEMENT))
        return new

    def _clear(self) -> None:
        self._pending, self._window, self._context, self._decoded = "", [], 0, 0

    def _hand(self, piece: str) -> str:
        if piece:
            self._pieces.append(piece)
        return piece
