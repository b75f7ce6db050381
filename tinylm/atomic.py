"""Atomic writes: build in a temporary sibling, then rename into place."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from tinylm.errors import TinylmError, UsageError


def check_out_dir(out: Path, force: bool) -> None:
    """Refuse to overwrite a non-empty output directory unless `force`."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} exists and is not a directory; choose another --out.")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise UsageError(f"{out} already exists and is not empty; use --force to replace it.")


@contextlib.contextmanager
def atomic_dir(out: Path, force: bool = False) -> Iterator[Path]:
    """Yield a temporary directory that replaces `out` only if the block finishes."""
    check_out_dir(out, force)
    parent = out.parent if str(out.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        # mkdir (not mkdtemp) so the directory gets the user's umask, not 0700
        tmp = parent / f".{out.name}.tmp-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
    except OSError as e:
        raise TinylmError(f"cannot write to {parent}: {e.strerror}; choose another --out.") from e
    try:
        yield tmp
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _replace_dir(tmp: Path, out: Path) -> None:
    """Move `tmp` to `out`; an old `out` is set aside first and removed only afterwards."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write text (UTF-8) or bytes to `path` through a temporary sibling and a rename."""
    # open(..., "x") rather than mkstemp so the file gets the user's umask, not 0600
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        if isinstance(data, bytes):
            with open(tmp, "xb") as f:
                f.write(data)
        else:
            with open(tmp, "x", encoding="utf-8") as f:
                f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
