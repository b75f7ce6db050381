"""Bad input to `tinylm tokenize`: one clear line, the right exit code, no traceback, no output."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import SAMPLE, run_cli

from tinylm.data.corpus import BLOCK


def _fails(tmp_path: Path, args: list[str], code: int, *needles: str, input=None) -> str:
    out = tmp_path / "out"
    r = run_cli("tokenize", *args, "--out", str(out), input=input)
    assert r.exit_code == code, r.output
    assert isinstance(r.exception, SystemExit)  # handled, not a traceback
    assert "Traceback" not in r.output
    msg = r.stderr.strip()
    assert msg.startswith("Error:") or msg.startswith("Usage:"), msg
    for needle in needles:
        assert needle in msg, msg
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    return msg


def _text(tmp_path: Path, name: str = "c.txt", data: bytes | None = None) -> str:
    p = tmp_path / name
    p.write_bytes(SAMPLE.encode() if data is None else data)
    return str(p)


def test_missing_path(tmp_path: Path) -> None:
    _fails(tmp_path, [str(tmp_path / "nope.txt")], 2, "does not exist")


def test_empty_corpus(tmp_path: Path) -> None:
    _fails(tmp_path, [_text(tmp_path, data=b"")], 1, "corpus is empty")


def test_directory_without_text_files(tmp_path: Path) -> None:
    d = tmp_path / "imgs"
    d.mkdir()
    (d / "a.png").write_bytes(b"\x89PNG")
    _fails(tmp_path, [str(d)], 1, "contains no text files")


def test_binary_file(tmp_path: Path) -> None:
    _fails(tmp_path, [_text(tmp_path, "b.txt", b"abc\x00def" * 10)], 1, "binary", "offset 3")


def test_invalid_utf8_names_file_and_offset(tmp_path: Path) -> None:
    # a valid two-byte character straddles the first block boundary; the bad byte comes after it
    data = b"a" * (BLOCK - 1) + "é".encode() + b"b" * 9 + b"\xff" + b"tail\n"
    path = _text(tmp_path, "bad.txt", data)
    _fails(tmp_path, [path], 1, "bad.txt", f"byte offset {BLOCK + 10}", "--errors replace")


def test_invalid_utf8_replaced_on_request(tmp_path: Path) -> None:
    path = _text(tmp_path, "bad.txt", SAMPLE.encode() + b"caf\xe9\n")
    r = run_cli(
        "tokenize", path, "-o", str(tmp_path / "out"), "--kind", "char", "--errors", "replace"
    )
    assert r.exit_code == 0, r.output


def test_jsonl_line_not_json(tmp_path: Path) -> None:
    path = _text(tmp_path, "r.jsonl", b'{"text": "ok"}\n{not json}\n')
    _fails(tmp_path, [path], 1, "r.jsonl, line 2", "not valid JSON")


def test_jsonl_record_lacks_field(tmp_path: Path) -> None:
    path = _text(tmp_path, "r.jsonl", b'{"body": "ok"}\n')
    _fails(tmp_path, [path], 1, "r.jsonl, line 1", "no string field 'text'", "--text-field")


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _text(tmp_path)
    os.chmod(path, 0)
    if os.geteuid() == 0:  # root reads anything: show the check what another user would see
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, m: False if str(p) == path else real(p, m))
    try:
        _fails(tmp_path, [path], 1, "cannot read", "permission denied")
    finally:
        os.chmod(path, 0o644)


def test_vocab_size_too_small(tmp_path: Path) -> None:
    _fails(tmp_path, [_text(tmp_path), "--vocab-size", "100"], 2, "too small", "at least 261")


def test_vocab_size_absurd(tmp_path: Path) -> None:
    _fails(tmp_path, [_text(tmp_path), "--vocab-size", "50000000"], 2, "out of range")


@pytest.mark.parametrize("fraction", ["0", "1", "1.5", "-0.2"])
def test_val_fraction_outside_open_interval(tmp_path: Path, fraction: str) -> None:
    _fails(tmp_path, [_text(tmp_path), "--val-fraction", fraction], 2, "between 0 and 1")


def test_val_fraction_leaving_empty_split(tmp_path: Path) -> None:
    path = _text(tmp_path, data=b"tiny corpus\n")
    _fails(tmp_path, [path, "--val-fraction", "0.01", "--kind", "char"], 2, "val split empty")


def test_existing_out_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    r = run_cli("tokenize", _text(tmp_path), "--out", str(out))
    assert r.exit_code == 2 and "--force" in r.stderr
    assert (out / "keep.txt").read_text() == "precious"


def test_tokenizer_file_that_is_not_a_tokenizer(tmp_path: Path) -> None:
    bogus = _text(tmp_path, "tokenizer.json", b'{"hello": "world"}')
    _fails(tmp_path, [_text(tmp_path), "--tokenizer", bogus], 1, "is not a tokenizer.json")


def test_foreign_tokenizer_without_specials(tmp_path: Path) -> None:
    from tokenizers import Tokenizer, models

    path = tmp_path / "foreign.json"
    Tokenizer(models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]")).save(str(path))
    _fails(tmp_path, [_text(tmp_path), "--tokenizer", str(path)], 1, "lacks tinylm's special")


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [("val_fraction", 1.0, "between 0 and 1"), ("min_frequency", 0, "at least 1")],
)
def test_library_checks_options_for_direct_callers(
    tmp_path: Path, field: str, value: float, needle: str
) -> None:
    from tinylm.data.options import TokenizeOptions
    from tinylm.data.prepare import tokenize_corpus
    from tinylm.errors import UsageError

    with pytest.raises(UsageError, match=needle):  # refused as the options are made
        tokenize_corpus([_text(tmp_path)], tmp_path / "out", TokenizeOptions(**{field: value}))
    assert not (tmp_path / "out").exists()
