"""The one atomic writer: text and bytes land whole, and nothing is left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinylm.atomic import write_atomic


def test_write_atomic_writes_text_and_bytes_and_replaces(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    write_atomic(path, "héllo\n")
    assert path.read_bytes() == "héllo\n".encode()
    write_atomic(path, b"\x89PNG\x00")
    assert path.read_bytes() == b"\x89PNG\x00"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]  # no temporary sibling remains


def test_write_atomic_leaves_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    write_atomic(path, "old")
    with pytest.raises(TypeError):
        write_atomic(path, 3)  # type: ignore[arg-type]
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
