"""Tokenizing in a child process: `tokenize_apart` runs tokenize_corpus in a fresh interpreter.

Training a tokenizer leaves 25-30 MB of allocator arenas and worker threads behind that no trim
returns; a training run that tokenized its raw text in its own process kept them for its whole
life (bench/memory_bench.py). A child takes them away when it ends. The child is started with
`python -m tinylm.data.apart` rather than multiprocessing, whose spawn would re-run the caller's
main script. The request and any error cross as JSON on stdin and stdout (no pickles); an error
comes back as the same exception type with the same message. Progress crosses as JSON lines on
stderr, so a long tokenization still shows its bars.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import deque
from dataclasses import asdict
from pathlib import Path
from typing import IO, TYPE_CHECKING

from tinylm.data.options import ReadOptions, TokenizeOptions
from tinylm.errors import TinylmError, UsageError, shorten

if TYPE_CHECKING:
    from tinylm.data.prepare import Progress

ERRORS = {"TinylmError": TinylmError, "UsageError": UsageError}
TAG = "tinylm-progress "  # marks the child's progress lines among anything else on its stderr
EVERY = 0.1  # seconds between the child's progress lines: a bar needs no more


def tokenize_apart(
    inputs: list[str], out: Path, opts: TokenizeOptions, progress: Progress | None = None
) -> None:
    """tokenize_corpus(inputs, out, opts, force=True) in a child process, its progress relayed."""
    if not sys.executable:  # an embedded interpreter cannot start another: tokenize here
        from tinylm.data.prepare import tokenize_corpus

        tokenize_corpus(inputs, out, opts, force=True, progress=progress)
        return
    request = {"inputs": inputs, "out": str(out), "options": _options_json(opts)}
    package_root = str(Path(__file__).resolve().parents[2])  # this tinylm, installed or not
    path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
    child = subprocess.Popen(
        [sys.executable, "-m", "tinylm.data.apart"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": path},
    )
    with child:
        try:
            child.stdin.write(json.dumps(request))
            child.stdin.close()
            # the child writes stdout only once, at its end (far below a pipe's buffer): reading
            # stderr to its end first cannot deadlock
            other = _relay(child.stderr, progress)
            stdout = child.stdout.read()
        except BaseException:  # Ctrl-C, or a progress bar that failed: the child goes too
            child.kill()
            raise
        code = child.wait()
    if code != 0:
        raise _error(stdout, "".join(other), code)


def _relay(lines: IO[str], progress: Progress | None) -> list[str]:
    """Pass the child's progress lines on; return the other lines (a crash's traceback)."""
    other: deque[str] = deque(maxlen=50)
    for line in lines:
        if not line.startswith(TAG):
            other.append(line)
            continue
        if progress is None:
            continue
        event = json.loads(line[len(TAG) :])
        if "stage" in event:
            progress.stage(event["stage"], event["total"])
        else:
            progress.advance(event["advance"])
    return list(other)


class _LineProgress:
    """The child's side: progress as tagged JSON lines on stderr, advances summed over EVERY s."""

    def __init__(self) -> None:
        self.pending = 0
        self.last = time.monotonic()

    def stage(self, name: str, total: int) -> None:
        self.flush()
        self._write({"stage": name, "total": total})

    def advance(self, n: int) -> None:
        self.pending += n
        if time.monotonic() - self.last >= EVERY:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self._write({"advance": self.pending})
            self.pending = 0
        self.last = time.monotonic()

    def _write(self, event: dict) -> None:
        sys.stderr.write(TAG + json.dumps(event) + "\n")
        sys.stderr.flush()


def _options_json(opts: TokenizeOptions) -> dict:
    fields = asdict(opts)
    fields["tokenizer_path"] = str(opts.tokenizer_path) if opts.tokenizer_path else None
    return fields


def _options(fields: dict) -> TokenizeOptions:
    path = fields["tokenizer_path"]
    return TokenizeOptions(
        **{
            **fields,
            "tokenizer_path": Path(path) if path else None,
            "read": ReadOptions(**fields["read"]),
        }
    )


def _error(stdout: str, stderr: str, code: int) -> Exception:
    """The child's error as the exception it raised; a crash as one line naming its cause."""
    try:
        e = json.loads(stdout)
    except ValueError:
        e = None
    if isinstance(e, dict) and e.get("type") in ERRORS:
        return ERRORS[e["type"]](e["message"])
    if isinstance(e, dict) and e.get("type") == "OSError":
        return OSError(e["errno"], e["strerror"], e["filename"])
    if code < 0:
        last = f"its process was killed by signal {-code} (out of memory?)"
    else:
        last = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit status {code}"
    return TinylmError(
        f"tokenizing the text failed: {shorten(last)}; "
        "tokenize it with `tinylm tokenize` and train on that."
    )


def main() -> int:
    """The child: one request on stdin; on failure, the error as JSON on stdout and exit 1."""
    from tinylm.data.prepare import tokenize_corpus

    request = json.loads(sys.stdin.read())
    try:
        progress = _LineProgress()
        opts = _options(request["options"])
        tokenize_corpus(request["inputs"], Path(request["out"]), opts, True, progress)
        progress.flush()
    except TinylmError as e:
        kind = "UsageError" if isinstance(e, UsageError) else "TinylmError"
        print(json.dumps({"type": kind, "message": str(e)}))
        return 1
    except OSError as e:
        print(json.dumps({"type": "OSError", **_os_fields(e)}))
        return 1
    return 0


def _os_fields(e: OSError) -> dict:
    filename = e.filename if isinstance(e.filename, str) or e.filename is None else str(e.filename)
    return {"errno": e.errno, "strerror": e.strerror or str(e), "filename": filename}


if __name__ == "__main__":
    sys.exit(main())
