"""Using a trained checkpoint: find it, load it with its tokenizer, encode prompts, stream text."""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer

from tinylm.checkpoint import Checkpoint, load_checkpoint
from tinylm.data.tokenizer import load_tokenizer
from tinylm.data.vocab import SPECIAL_TOKENS, UNK_ID
from tinylm.errors import TinylmError, UsageError

REPLACEMENT = "\ufffd"  # what a decoder shows for an incomplete UTF-8 sequence


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
    be the start of a stop string; both are held back until the next tokens settle them.
    """

    def __init__(self, tok: Tokenizer, stops: tuple[str, ...] = ()) -> None:
        self.tok = tok
        self.stops = tuple(s for s in stops if s)
        self.ids: list[int] = []
        self.text = ""  # the settled text so far, cut at a stop string if one appeared
        self.emitted = 0  # characters of self.text already handed out
        self.stopped = False

    def push(self, token: int) -> str:
        """Add one token; return the newly printable text ('' if nothing is settled yet)."""
        self.ids.append(token)
        text = self.tok.decode(self.ids, skip_special_tokens=False)
        for special in SPECIAL_TOKENS:  # a sample shows no control tokens
            text = text.replace(special, "")
        cut = min((i for i in (text.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            self.text, self.stopped = text[:cut], True
            return self._take(len(self.text))
        self.text = text
        safe = len(text.rstrip(REPLACEMENT))  # an unfinished character stays back
        for s in self.stops:  # so does a tail that could still grow into a stop string
            for k in range(min(len(s) - 1, len(text)), 0, -1):
                if text.endswith(s[:k]):
                    safe = min(safe, len(text) - k)
                    break
        return self._take(safe)

    def finish(self) -> str:
        """Everything not yet handed out."""
        return self._take(len(self.text))

    def _take(self, upto: int) -> str:
        piece = self.text[self.emitted : max(upto, self.emitted)]
        self.emitted = max(upto, self.emitted)
        return piece
