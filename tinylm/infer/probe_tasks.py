"""Probe tasks built from held-out token ids, for when the user brings no labels.

- order: is a passage's second half really its continuation, or were the halves swapped? Word
  counts are the same either way, so a bag-of-words probe sits at chance: only a representation
  of sequence can solve it.
- source: which document does a passage come from (when the held-out text has several)?
"""

from __future__ import annotations

import numpy as np

from tinylm.data.vocab import EOS_ID

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
