"""The n-gram judge: a proper distribution, and it prefers text like its training text."""

import math

import numpy as np
import pytest

from tinylm.infer.judge import NGramJudge, sample_stats


def _stream(n: int, vocab: int, seed: int = 0) -> np.ndarray:
    """A token stream with strong local structure: each token mostly follows from the last."""
    rng = np.random.default_rng(seed)
    ids = [0]
    for _ in range(n):
        ids.append((ids[-1] * 7 + int(rng.integers(0, 3))) % vocab)
    return np.array(ids)


@pytest.mark.parametrize("context", [[], [5], [1, 2, 3], [10, 21, 49], [3, 3, 3, 3, 3]])
def test_probabilities_sum_to_one_in_any_context(context):
    vocab = 50
    judge = NGramJudge.fit(_stream(5000, vocab), vocab, order=4)
    total = sum(math.exp(-judge.nll(context + [w], len(context))[0]) for w in range(vocab))
    assert total == pytest.approx(1.0, abs=1e-9)


def test_training_like_text_scores_far_better_than_noise():
    vocab = 50
    judge = NGramJudge.fit(_stream(20000, vocab), vocab, order=4)
    heldout = _stream(2000, vocab, seed=1)  # same process, unseen draws
    noise = np.random.default_rng(2).integers(0, vocab, 2000)
    assert judge.perplexity([(heldout, 0)]) < 5.0 < 40.0 < judge.perplexity([(noise, 0)])


def test_start_scores_only_the_continuation():
    vocab = 50
    ids = _stream(300, vocab)
    judge = NGramJudge.fit(ids, vocab, order=3)
    full = judge.nll(ids)
    assert np.allclose(judge.nll(ids, start=100), full[100:])
    assert len(judge.nll(ids, start=len(ids))) == 0


def test_order_is_capped_to_keep_keys_in_int64():
    judge = NGramJudge.fit(np.arange(100) % 7, 65536, order=8)
    assert judge.order == 3  # 65536 ** 3 < 2 ** 62 < 65536 ** 4


def test_sample_stats():
    stats = sample_stats(["a b c d a b c d", "x y"])
    # bigrams: ab bc cd da ab bc cd + xy = 8, of which 5 distinct
    assert stats["distinct_2"] == pytest.approx(5 / 8)
    # 4-grams of the first text: abcd bcda cdab dabc abcd: one of five repeated
    assert stats["repetition_4"] == pytest.approx(1 / 5)
