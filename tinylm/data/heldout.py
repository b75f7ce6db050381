"""Held-out text for `tinylm eval` and `tinylm compare`: a run's val split, or files given."""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from tinylm.data.corpus import iter_documents, make_sources, resolve_inputs
from tinylm.data.options import ReadOptions
from tinylm.data.tokenizer import file_sha256, specials_as_text
from tinylm.data.tokens import load_token_dir
from tinylm.data.vocab import EOS_ID
from tinylm.errors import TinylmError, UsageError


@dataclass
class HeldOut:
    """Token ids of some text, and what they stand for."""

    ids: np.ndarray
    bytes_per_token: float  # UTF-8 bytes per token: nats per token -> bits per byte
    source: str
    text: str  # the text itself (capped), for word-level checks of generated samples

    def __len__(self) -> int:
        return len(self.ids)


def run_dir_of(path: Path) -> Path | None:
    """The run directory holding `path` (a run directory or one of its checkpoints), if any."""
    for candidate in (path, path.parent):
        if (candidate / "run.json").is_file():
            return candidate
    return None


def from_run(path: Path, tokenizer_path: Path, max_tokens: int) -> HeldOut:
    """The val split of the run that `path` belongs to (checked against its tokenizer)."""
    run = run_dir_of(path)
    if run is None:
        raise UsageError(f"{path} is not inside a run directory; give the text to evaluate on.")
    try:
        data_dir = Path(json.loads((run / "run.json").read_text(encoding="utf-8"))["data"])
    except (ValueError, KeyError, TypeError) as e:
        raise TinylmError(f"{run / 'run.json'} is corrupt ({e}).") from e
    if not data_dir.is_dir():
        raise TinylmError(f"the data of {run} ({data_dir}) is gone; give the text to evaluate on.")
    data = load_token_dir(data_dir)
    if file_sha256(data.tokenizer_path) != file_sha256(tokenizer_path):
        raise TinylmError(f"the data at {data_dir} has another tokenizer than {path}'s model.")
    ids = np.asarray(data.val[:max_tokens])
    tok = Tokenizer.from_file(str(tokenizer_path))
    text = tok.decode(ids[: 1 << 16].tolist())
    return HeldOut(ids, data.bytes_per_token, f"val split of {run}", text)


def from_texts(
    inputs: list[str], tok: Tokenizer, max_tokens: int, read: ReadOptions | None = None
) -> HeldOut:
    """Files, directories or '-' (stdin), read as `tinylm tokenize` reads them (`read`: how);
    each document is followed by [EOS]. Reading stops after `max_tokens`."""
    parts: list[list[int]] = []
    n_bytes = n_tokens = 0
    texts: list[str] = []
    with specials_as_text(tok), tempfile.TemporaryDirectory() as spool:
        sources = make_sources(resolve_inputs(inputs), Path(spool), sys.stdin.buffer)
        for doc in iter_documents(sources, read or ReadOptions()):
            text = "".join(doc)
            if not text:
                continue
            ids = tok.encode(text, add_special_tokens=False).ids + [EOS_ID]
            parts.append(ids)
            texts.append(text)
            n_bytes += len(text.encode("utf-8"))
            n_tokens += len(ids)
            if n_tokens >= max_tokens:
                break
    if n_tokens <= len(parts):
        raise TinylmError(f"{', '.join(inputs)} holds no text to evaluate on.")  # data: exit 1
    ids = np.concatenate(parts)[:max_tokens]
    name = ", ".join(inputs) if len(inputs) <= 3 else f"{inputs[0]} and {len(inputs) - 1} more"
    return HeldOut(ids, n_bytes / n_tokens, name, "\n".join(texts)[: 1 << 20])
