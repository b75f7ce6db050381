"""A judge of generated text that is none of the judged models: an interpolated Kneser-Ney n-gram.

Built on a run's train split, it scores every family's samples the same way, so generation can be
compared across families without letting one of them grade its own homework. Its bias: it knows
only local context (order − 1 tokens) and the train split, so it rewards locally common, even
copied, text and cannot see long-range coherence; `sample_stats` (distinct-2, repetition) is
reported next to it for that reason.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_ORDER = 5


@dataclass(frozen=True)
class _Order:
    """The counts of one order: sorted n-gram keys with counts, and their contexts' totals."""

    keys: np.ndarray  # sorted int64 keys of the n-grams
    counts: np.ndarray  # raw counts (top order) or continuation counts (lower orders)
    ctx_keys: np.ndarray  # sorted keys of the (n-1)-gram contexts
    ctx_total: np.ndarray  # sum of counts after each context
    ctx_types: np.ndarray  # distinct tokens seen after each context
    discount: float


def _grams(ids: np.ndarray, k: int, base: int) -> np.ndarray:
    """Keys of every k-gram of ids: the tokens read as the digits of a base-`base` number."""
    keys = ids[: len(ids) - k + 1].astype(np.int64)
    for j in range(1, k):
        keys = keys * base + ids[j : len(ids) - k + 1 + j]
    return keys


def _discount(counts: np.ndarray) -> float:
    """Ney's estimate n1 / (n1 + 2 n2), kept in a sane range."""
    n1, n2 = int((counts == 1).sum()), int((counts == 2).sum())
    d = n1 / (n1 + 2 * n2) if n1 + n2 else 0.75
    return min(max(d, 0.1), 0.95)


def _order(keys: np.ndarray, counts: np.ndarray, base: int) -> _Order:
    ctx, inverse = np.unique(keys // base, return_inverse=True)
    total = np.bincount(inverse, weights=counts).astype(np.float64)
    types = np.bincount(inverse).astype(np.float64)
    return _Order(keys, counts.astype(np.float64), ctx, total, types, _discount(counts))


def _lookup(table: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """values[i] where table[i] == query, else 0 (table sorted)."""
    if len(table) == 0:
        return np.zeros(len(query))
    at = np.clip(np.searchsorted(table, query), 0, len(table) - 1)
    return np.where(table[at] == query, values[at], 0.0)


class NGramJudge:
    """Interpolated Kneser-Ney over token ids, with a uniform floor so nothing scores -inf."""

    def __init__(self, orders: list[_Order], vocab_size: int) -> None:
        self.orders = orders  # orders[k - 1] holds the k-grams
        self.vocab_size = vocab_size

    @property
    def order(self) -> int:
        return len(self.orders)

    @classmethod
    def fit(cls, ids: np.ndarray, vocab_size: int, order: int = DEFAULT_ORDER) -> NGramJudge:
        """Count a token stream (the run's train split)."""
        if order < 1:
            raise ValueError(f"order must be >= 1, got {order}")
        # keys are base-V numbers of `order` digits: keep them inside int64
        order = max(1, min(order, int(62 / math.log2(max(vocab_size, 2)))))
        ids = np.asarray(ids, dtype=np.int64)
        order = min(order, max(len(ids), 1))
        top_keys, top_counts = np.unique(_grams(ids, order, vocab_size), return_counts=True)
        orders = [_order(top_keys, top_counts, vocab_size)]
        upper = top_keys  # the distinct (k + 1)-grams
        for k in range(order - 1, 0, -1):
            # continuation count of a k-gram: how many distinct tokens precede it
            keys, counts = np.unique(upper % vocab_size**k, return_counts=True)
            orders.append(_order(keys, counts, vocab_size))
            upper = np.unique(_grams(ids, k, vocab_size))
        return cls(orders[::-1], vocab_size)

    def nll(self, ids: Sequence[int], start: int = 0) -> np.ndarray:
        """Negative log-probability (nats) of ids[start:], each given the tokens before it."""
        ids = np.asarray(ids, dtype=np.int64)
        pos = np.arange(start, len(ids))
        if len(pos) == 0:
            return np.zeros(0)
        V = self.vocab_size
        unigram = self.orders[0]
        total = unigram.counts.sum()
        p = np.full(len(pos), 1.0 / V)
        if total > 0:
            kept = np.maximum(_lookup(unigram.keys, unigram.counts, ids[pos]) - unigram.discount, 0)
            floor = unigram.discount * len(unigram.keys) / total
            p = kept / total + floor * p
        for k in range(2, self.order + 1):
            o = self.orders[k - 1]
            usable = pos >= k - 1  # enough history for a k-gram
            q = pos[usable]
            keys = ids[q - k + 1].copy()
            for j in range(k - 2, -1, -1):
                keys = keys * V + ids[q - j]
            ctx = keys // V
            ctx_total = _lookup(o.ctx_keys, o.ctx_total, ctx)
            ctx_types = _lookup(o.ctx_keys, o.ctx_types, ctx)
            count = _lookup(o.keys, o.counts, keys)
            seen = ctx_total > 0
            lower = p[usable]
            higher = np.where(
                seen,
                (np.maximum(count - o.discount, 0) + o.discount * ctx_types * lower)
                / np.where(seen, ctx_total, 1.0),
                lower,
            )
            p[usable] = higher
        return -np.log(p)

    def perplexity(self, sequences: Sequence[tuple[Sequence[int], int]]) -> float:
        """Per-token perplexity over (ids, start) pairs: each sequence scored from `start` on."""
        scores = [self.nll(ids, start) for ids, start in sequences]
        n = sum(len(s) for s in scores)
        if n == 0:
            return float("nan")
        return math.exp(sum(float(s.sum()) for s in scores) / n)


def sample_stats(texts: Sequence[str]) -> dict:
    """distinct-2 (unique word bigrams / word bigrams, pooled) and repetition (repeated 4-grams);
    None where the texts are too short to say."""
    bigrams: list[tuple[str, str]] = []
    reps: list[float] = []
    for text in texts:
        words = text.split()
        bigrams += list(zip(words, words[1:], strict=False))
        fours = list(zip(words, words[1:], words[2:], words[3:], strict=False))
        if fours:
            reps.append(1.0 - len(set(fours)) / len(fours))
    return {
        "distinct_2": len(set(bigrams)) / len(bigrams) if bigrams else None,
        "repetition_4": sum(reps) / len(reps) if reps else None,
    }
