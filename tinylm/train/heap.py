"""The C heap while training: keep freed memory for the next step instead of unmapping it.

A training step allocates and frees the same tensors every step. The largest (batch x context x
vocabulary float32: the logits, their log-softmax and two gradients, 32 MiB each at the tiny
preset and a 2048 vocabulary) are just above the largest mmap threshold glibc allows (32 MiB), so
glibc maps each one fresh and unmaps it when freed (strace: four 33.6 MB mmap/munmap pairs a
step), and the kernel zero-fills every page again. The default `tinylm train` took ~42k minor
faults a step, 15.9 M in its 2 minutes, 13 % of its CPU time in the kernel; served from a heap
that is never trimmed, a step reuses the pages of the one before: 0.19 M faults and 0.5 % kernel
time (bench/memory_bench.py). The numbers computed are the same: only where the memory comes from
changes. The peak RSS is set elsewhere: the head's loss a slice at a time (tinylm/head_loss.py),
a CPU batch in slices of rows (train/config.py, CPU_SLICE_TOKENS) and optimizers that do not
import torch._dynamo (train/optim.py) took the default run from ~750 to under 400 MB.
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Iterator

# mallopt parameters and glibc's defaults (malloc.h, mallopt(3))
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
DEFAULT_TRIM_THRESHOLD = 128 * 1024
DEFAULT_MMAP_MAX = 65536
KEEP = 1 << 30  # trim the heap top only past 1 GiB free: a step's peak is far below


def _glibc() -> ctypes.CDLL | None:
    """The C library if it is glibc (mallopt and malloc_trim are glibc's); None elsewhere."""
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - glibc only: macOS and musl lack it
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):
        return None
    return libc


@contextlib.contextmanager
def steady_heap() -> Iterator[None]:
    """While inside, large blocks come from the heap and freed pages stay mapped for reuse;
    on leaving, glibc's defaults come back and free pages go back to the system. A no-op on
    other C libraries. Process-wide: the trainer enters it around its loop only."""
    libc = _glibc()
    if libc is None:
        yield
        return
    libc.malloc_trim(0)  # what setup freed (a tokenizer's training) is not carried along
    libc.mallopt(M_MMAP_MAX, 0)
    libc.mallopt(M_TRIM_THRESHOLD, KEEP)
    try:
        yield
    finally:
        libc.mallopt(M_MMAP_MAX, DEFAULT_MMAP_MAX)
        libc.mallopt(M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD)
        libc.malloc_trim(0)
