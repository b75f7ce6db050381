"""The C heap while training (tinylm.train.heap): a step's large tensors reuse the pages of the
steps before instead of being mapped and faulted in afresh. Counted in minor page faults, not
timed; the figures for `tinylm train` are bench/memory_bench.py's."""

from __future__ import annotations

import resource

import pytest
import torch
import torch.nn.functional as F

from tinylm.train.heap import _glibc, steady_heap

pytestmark = pytest.mark.skipif(_glibc() is None, reason="mallopt is glibc's")

VOCAB = 9000  # 1024 rows x 9000 float32 logits = 36.9 MB: above glibc's largest mmap threshold


def _faults_per_steps(warm: int = 8, steps: int = 8) -> int:
    """Minor faults of `steps` steps of a big output head and its loss, after `warm` steps."""
    g = torch.Generator().manual_seed(0)
    w = torch.randn(32, VOCAB, generator=g, requires_grad=True)
    x = torch.randn(1024, 32, generator=g)
    y = torch.randint(0, VOCAB, (1024,), generator=g)

    def step() -> None:
        F.cross_entropy(x @ w, y).backward()  # logits, log-softmax and two gradients: 4 x 37 MB
        w.grad = None

    for _ in range(warm):
        step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(steps):
        step()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def test_large_tensors_reuse_their_pages_inside_steady_heap() -> None:
    outside = _faults_per_steps()  # glibc maps each one and unmaps it at free
    assert outside > 8 * 2 * 9000  # at least two fresh 9000-page tensors a step
    with steady_heap():
        inside = _faults_per_steps()
    assert inside < outside / 4  # a few settle into the heap, then none
