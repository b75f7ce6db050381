"""Atomic writes: build in a temporary sibling, then rename into place; failed writes as one line.

Temporaries carry the writer's PID: `.NAME.tmp-PID-XXXXXX` while being built,
`.NAME.old-PID-XXXXXX` for an old output set aside during a swap. A later tinylm process collects
those a killed one left behind (never those of a live process) and puts back an old output whose
swap never ended.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from tinylm.errors import TinylmError, UsageError

_NO_SPACE = "free some space or choose another --out"
_NO_WRITE = "choose a writable --out"
# a full, read-only or forbidden disk: the user's environment, never a tinylm bug
WRITE_ERRNOS = {
    errno.ENOSPC: _NO_SPACE,
    errno.EDQUOT: _NO_SPACE,
    errno.EFBIG: _NO_SPACE,
    errno.EROFS: _NO_WRITE,
    errno.EACCES: _NO_WRITE,
    errno.EPERM: _NO_WRITE,
}
# tokenizers and safetensors (Rust) raise plain exceptions that end in "(os error 28)"
_RUST_IO = re.compile(r"\(os error (\d+)\)")
# (tinylm 0.x set old outputs aside as `.NAME.old-PID`, without the suffix)
_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-(?P<pid>\d+)(?P<suffix>-[0-9a-f]{6})?$")


def temp_name(name: str, kind: str = "tmp") -> str:
    """A temporary sibling's name for `name`: recognisable, unique, holding this process's PID."""
    return f".{name}.{kind}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def write_error(e: BaseException, path: Path, *inside: Path) -> TinylmError | None:
    """`e` as one line naming `path` when it is a full, read-only or forbidden disk while writing
    `path` (or its temporaries `inside`); else None."""
    code = e.errno if isinstance(e, OSError) else None
    if code is None:
        found = _RUST_IO.search(str(e))
        code = int(found.group(1)) if found else None
    if code not in WRITE_ERRNOS:
        return None
    # an OSError naming a file elsewhere came from reading an input, not from this write
    named = getattr(e, "filename", None)
    if named is not None:
        where = Path(os.path.abspath(named))
        if not any(where.is_relative_to(os.path.abspath(p)) for p in (path, *inside)):
            return None
    return TinylmError(f"cannot write {path}: {os.strerror(code)}; {WRITE_ERRNOS[code]}.")


@contextlib.contextmanager
def writing(path: Path, *inside: Path) -> Iterator[None]:
    """Inside the block, a full, read-only or forbidden disk while writing `path` (or its
    temporaries `inside`) becomes one TinylmError naming `path`."""
    try:
        yield
    except TinylmError:
        raise
    except Exception as e:
        err = write_error(e, path, *inside)
        if err is None:
            raise
        raise err from e


def _alive(pid: int) -> bool:
    """Whether process `pid` may still be writing (when unsure: yes)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # another user's live process, or not a PID we could have written
    return True


def collect_stale(parent: Path, name: str | None = None) -> list[Path]:
    """Remove the temporaries that dead tinylm processes left in `parent` (only `name`'s if
    given); an old output set aside by a swap that never finished is put back. Returns them."""
    try:
        entries = sorted(parent.iterdir())
    except OSError:
        return []
    collected = []
    for p in entries:
        m = _TEMP.match(p.name)
        if m is None or (m["kind"] == "tmp" and not m["suffix"]):
            continue  # not ours, or without a PID to check
        if (name is not None and m["name"] != name) or _alive(int(m["pid"])):
            continue
        target = parent / m["name"]
        with contextlib.suppress(OSError):
            if m["kind"] == "old" and not target.exists():  # killed between a swap's renames
                os.replace(p, target)
            elif p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
            collected.append(p)
    return collected


def check_out_dir(out: Path, force: bool) -> None:
    """Refuse to overwrite a non-empty output directory unless `force`."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} exists and is not a directory; choose another --out.")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise UsageError(f"{out} already exists and is not empty; use --force to replace it.")


def check_out_clear(out: Path, inputs: Iterable[Path | str | None]) -> None:
    """Refuse an --out that holds the working directory, or is or holds an input: replacing it
    would destroy what the command reads."""
    target = Path(out).expanduser().resolve()
    if Path.cwd().resolve().is_relative_to(target):
        raise UsageError(
            f"--out {out} is the current directory or one of its parents; "
            "choose a new directory for the output."
        )
    for given in inputs:
        if given is None or str(given) == "-":
            continue
        src = Path(given).expanduser().resolve()
        if src.is_relative_to(target):
            what = "is" if src == target else "holds"
            raise UsageError(
                f"--out {out} {what} the input {given}; writing there would destroy it, "
                "so choose another --out."
            )


@contextlib.contextmanager
def atomic_dir(out: Path, force: bool = False) -> Iterator[Path]:
    """Yield a temporary directory that replaces `out` only if the block finishes; a full or
    read-only disk is one TinylmError, and the temporary directory is always removed."""
    check_out_dir(out, force)
    target = Path(os.path.abspath(out))  # "." or "x/.." would have no name to build beside
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        collect_stale(parent, target.name)
        # mkdir (not mkdtemp) so the directory gets the user's umask, not 0700
        tmp = parent / temp_name(target.name)
        tmp.mkdir()
    except OSError as e:
        raise TinylmError(f"cannot write to {parent}: {e.strerror}; choose another --out.") from e
    try:
        with writing(out, tmp):
            yield tmp
            _replace_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _replace_dir(tmp: Path, out: Path) -> None:
    """Move `tmp` to `out`; an old `out` is set aside first and removed only afterwards."""
    old = None
    if out.exists():
        old = out.with_name(temp_name(out.name, "old"))
        os.replace(out, old)
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write text (UTF-8) or bytes to `path` through a temporary sibling and a rename."""
    collect_stale(path.parent, path.name)
    # open(..., "x") rather than mkstemp so the file gets the user's umask, not 0600
    tmp = path.with_name(temp_name(path.name))
    try:
        with writing(path, tmp):
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


def append_line(path: Path, line: str) -> None:
    """Append `line` and a newline to a text file whole, or not at all (readers parse each line)."""
    data = (line + "\n").encode("utf-8")
    with writing(path):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            end = os.fstat(fd).st_size
            try:
                if os.write(fd, data) != len(data):  # a short write: the disk filled up
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            except OSError:
                os.ftruncate(fd, end)
                raise
        finally:
            os.close(fd)
