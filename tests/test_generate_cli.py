"""`tinylm generate` end to end from a checkpoint trained in the test, and text streaming."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli
from tokenizers import Tokenizer

from tinylm.data.tokenizer import build_tokenizer, resolve_vocab_size
from tinylm.infer.loading import REPLACEMENT, TextStream


@pytest.fixture
def causal_run(runs: dict[str, Path]) -> Path:
    return runs["causal"]


def _byte_tok() -> Tokenizer:
    return build_tokenizer("byte", iter([]), resolve_vocab_size("byte", None, set()), 1, set())


def test_stream_never_emits_broken_utf8_and_equals_whole_decode() -> None:
    tok = _byte_tok()
    text = "Café 😀 naïve — done"
    ids = tok.encode(text).ids
    stream = TextStream(tok)
    pieces = [stream.push(i) for i in ids]
    pieces.append(stream.finish())
    assert "".join(pieces) == text
    assert not any(REPLACEMENT in p for p in pieces)
    assert len([p for p in pieces if p]) < len(ids)  # multi-byte characters waited for their end


def test_stream_cuts_at_stop_string_and_holds_back_its_prefix() -> None:
    tok = _byte_tok()
    stream = TextStream(tok, stops=("END",))
    out = "".join(stream.push(i) for i in tok.encode("abc EN").ids)
    assert out == "abc "  # "EN" could become "END": held back
    out += "".join(stream.push(i) for i in tok.encode("D more").ids)
    assert stream.stopped and stream.text == "abc " and out + stream.finish() == "abc "


def test_generate_end_to_end(causal_run: Path) -> None:
    args = ["generate", str(causal_run), "--prompt", "First", "-n", "30", "--seed", "5"]
    a, b = run_cli(*args), run_cli(*args)
    assert a.exit_code == 0, a.output
    assert a.stdout == b.stdout and a.stdout.startswith("First")
    assert "tokens/s" in a.stderr and "seed 5" in a.stderr
    streamed = run_cli(*args, "--stream")
    assert streamed.stdout == a.stdout  # streaming prints the same text
    other = run_cli("generate", str(causal_run), "--prompt", "First", "-n", "30", "--seed", "6")
    assert other.stdout != a.stdout


def test_generate_json_samples_and_stop(causal_run: Path) -> None:
    r = run_cli(
        "generate",
        str(causal_run),
        "-p",
        "All:",
        "-n",
        "20",
        "--num-samples",
        "2",
        "--json",
        "--seed",
        "1",
        "--ignore-eos",
    )
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [row["seed"] for row in rows] == [1, 2]
    assert all(row["prompt"] == "All:" and row["tokens"] == 20 for row in rows)
    assert all(row["stop_reason"] == "length" for row in rows)
    r = run_cli(
        "generate",
        str(causal_run),
        "-p",
        "All:",
        "-n",
        "40",
        "--json",
        "--seed",
        "1",
        "--ignore-eos",
        "--stop",
        " ",
    )
    row = json.loads(r.stdout)
    assert " " not in row["text"] and row["stop_reason"] in ("stop", "length")


def test_generate_prompt_from_stdin_file_and_unknown_chars(
    causal_run: Path, tmp_path: Path
) -> None:
    r = run_cli("generate", str(causal_run), "-p", "-", "-n", "5", "--seed", "1", input="Speak")
    assert r.exit_code == 0 and r.stdout.startswith("Speak")
    f = tmp_path / "prompt.txt"
    f.write_text("Zebra ☃", encoding="utf-8")  # not in the char vocabulary of the test corpus
    r = run_cli("generate", str(causal_run), "--prompt-file", str(f), "-n", "5")
    assert r.exit_code == 0, r.output
    assert "became [UNK]" in r.stderr


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["-t", "-1"], 2, "temperature"),
        (["--top-p", "1.5"], 2, "--top-p"),
        (["--top-k", "-2"], 2, "--top-k"),
        (["--num-samples", "0"], 2, "--num-samples"),
    ],
)
def test_generate_bad_options(causal_run: Path, args: list[str], code: int, needle: str) -> None:
    r = run_cli("generate", str(causal_run), *args)
    assert r.exit_code == code and needle in r.stderr and "Traceback" not in r.output


def test_generate_bad_inputs(causal_run: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    r = run_cli("generate", str(causal_run), "--prompt-file", str(empty))
    assert r.exit_code == 1 and "is empty" in r.stderr
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok \xff")
    r = run_cli("generate", str(causal_run), "--prompt-file", str(bad))
    assert r.exit_code == 1 and "invalid UTF-8 at byte offset 3" in r.stderr
    r = run_cli("generate", str(tmp_path / "missing"))
    assert r.exit_code == 2 and "does not exist" in r.stderr
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    r = run_cli("generate", str(broken))
    assert r.exit_code == 1 and "missing model.safetensors, tokenizer.json" in r.stderr


def test_checkpoint_whose_tokenizer_does_not_match(causal_run: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "ckpt"
    shutil.copytree(causal_run / "best", copy)
    data = json.loads((copy / "tokenizer.json").read_text())
    data["added_tokens"][0]["content"] = "[PAD?]"
    (copy / "tokenizer.json").write_text(json.dumps(data))
    r = run_cli("generate", str(copy), "-p", "x")
    assert r.exit_code == 1 and "does not match the tokenizer" in r.stderr


def test_stop_strings_take_shell_escapes() -> None:
    from tinylm.cli.generate import unescape

    assert unescape(r"\n\n") == "\n\n"
    assert unescape(r"a\tb\\n") == "a\tb\\n"  # an escaped backslash stays a backslash
    assert unescape("\nRé") == "\nRé"  # real newlines and non-ASCII pass through


def test_bad_options_are_refused_before_a_checkpoint_loads(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing")  # loading it would fail with exit 1
    for args in (
        ["generate", missing, "-t", "nan"],
        ["generate", missing, "--top-p", "inf"],
        ["generate", missing, "--steps", "0"],
        ["fill-mask", missing, "[MASK]", "--shortlist", "0"],
        ["eval", missing, "--max-tokens", "1"],
        ["compare", missing, missing, "--samples", "0"],
    ):
        r = run_cli(*args)
        assert r.exit_code == 2 and "Invalid value" in r.stderr, (args, r.output)
