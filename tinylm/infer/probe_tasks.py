"""Probe tasks built from held-out token ids, for when the user brings no labels.

- order: is a passage's second half really its continuation, or were the halves swapped? Word
  counts are the same either way, so a bag-of-words probe sits at chance: only a representation
  of sequence can solve it.
- source: which document does a passage come from (when the held-out text has several)?
With labels of their own, users give {text, label} records instead (`read_labels`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from tinylm.data.tokenizer import specials_as_text
from tinylm.data.vocab import EOS_ID
from tinylm.errors import TinylmError, first_line

MAX_SOURCES = 8  # classes in the source task: the documents with the most text


def _starts(length: int, span: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Up to n non-overlapping window starts of `span` tokens in a text of `length`."""
    slots = length // span
    chosen = rng.choice(slots, size=min(n, slots), replace=False) if slots else np.zeros(0)
    return np.sort(chosen.astype(np.int64)) * span


def order_task(
    ids: np.ndarray, half: int, n: int, seed: int = 0
) -> tuple[list[list[int]], list[int]]:
    """n passages of 2·half tokens, half of them with their halves swapped (label 0)."""
    rng = np.random.default_rng(seed)
    sequences, labels = [], []
    for k, start in enumerate(_starts(len(ids), 2 * half, n, rng)):
        a = ids[start : start + half].tolist()
        b = ids[start + half : start + 2 * half].tolist()
        swapped = k % 2 == 1
        sequences.append(b + a if swapped else a + b)
        labels.append(0 if swapped else 1)
    order = rng.permutation(len(sequences))
    return [sequences[i] for i in order], [labels[i] for i in order]


def source_task(
    ids: np.ndarray, length: int, n: int, seed: int = 0
) -> tuple[list[list[int]], list[int]]:
    """Passages labelled by the document they come from; empty when there is one document."""
    rng = np.random.default_rng(seed)
    cuts = np.flatnonzero(ids == EOS_ID)
    docs = [d for d in np.split(ids, cuts + 1) if len(d) > length]
    docs = sorted(docs, key=len, reverse=True)[:MAX_SOURCES]
    if len(docs) < 2:
        return [], []
    per_doc = max(n // len(docs), 1)
    sequences, labels = [], []
    for label, doc in enumerate(docs):
        for start in _starts(len(doc), length, per_doc, rng):
            sequences.append(doc[start : start + length].tolist())
            labels.append(label)
    return sequences, labels


def probe_tasks(
    ids: np.ndarray, length: int, n: int, seed: int = 0
) -> dict[str, tuple[list[list[int]], list[int]]]:
    """The tasks held-out ids support: order always (when long enough), source when several
    documents; each as (sequences, labels)."""
    tasks = {}
    seqs, labels = order_task(ids, length // 2, n, seed)
    if len(set(labels)) == 2 and len(seqs) >= 20:
        tasks["order"] = (seqs, labels)
    seqs, labels = source_task(ids, length, n, seed)
    if len(seqs) >= 20:
        tasks["source"] = (seqs, labels)
    return tasks


def read_labels(
    path: Path, tok: Tokenizer, max_len: int
) -> tuple[list[list[int]], list[int], list]:
    """{text, label} records from a JSON-lines file: token ids (cut to max_len), class indices
    and the class names."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise TinylmError(f"cannot read {path}: {first_line(e)}.") from e
    sequences, names = [], []
    with specials_as_text(tok):
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                text, label = record["text"], record["label"]
                if not isinstance(text, str) or isinstance(label, dict | list):
                    raise TypeError("text must be a string and label a string or number")
            except (ValueError, KeyError, TypeError) as e:
                raise TinylmError(
                    f'{path}:{number}: not a {{"text": ..., "label": ...}} record ({e}).'
                ) from e
            ids = tok.encode(text, add_special_tokens=False).ids[:max_len]
            if ids:
                sequences.append(ids)
                names.append(label)
    classes = sorted(set(names), key=str)
    if len(classes) < 2 or len(sequences) < 10:
        raise TinylmError(
            f"{path} has {len(sequences)} records in {len(classes)} classes; a probe needs at "
            "least 10 records and 2 classes."
        )
    return sequences, [classes.index(n) for n in names], classes
