"""meta.json, written last into a token directory: what its files hold and how they were made."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from tinylm import __version__
from tinylm.data.corpus import Source
from tinylm.data.options import TokenizeOptions
from tinylm.data.tokenizer import special_token_ids

if TYPE_CHECKING:
    import numpy as np

    from tinylm.data.encode import SplitStats

FORMAT_VERSION = 1
SPLITS = ("train", "val")  # each is written to <name>.bin


def build_meta(
    *,
    tokenizer: dict,
    dtype: np.dtype,
    documents: int,
    splits: dict[str, SplitStats],
    sources: list[Source],
    opts: TokenizeOptions,
    seconds: float,
) -> dict:
    """The meta of a token directory; `tokenizer` is its kind, sha256 and vocab_size."""
    return {
        "format_version": FORMAT_VERSION,
        "tinylm_version": __version__,
        "tokenizer": tokenizer,
        "vocab_size": tokenizer["vocab_size"],
        "dtype": dtype.name,
        "special_tokens": special_token_ids(),
        "documents": documents,
        "splits": {name: asdict(s) for name, s in splits.items()},
        "sources": [{"path": s.name, "bytes": s.size} for s in sources],
        "val_fraction": opts.val_fraction,
        "seed": opts.seed,
        "seconds": round(seconds, 3),
    }


def write_meta(root: Path, meta: dict) -> None:
    """Write root/meta.json (inside the temporary output directory, so it is never half-written)."""
    (root / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
