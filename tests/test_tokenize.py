"""`tinylm tokenize` end to end: inputs, normalisation, splits, and meta.json against the files."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from conftest import SAMPLE, read_tokens, run_cli
from tokenizers import Tokenizer

from tinylm.data.tokenizer import file_sha256
from tinylm.data.vocab import EOS_ID


def _decode_all(out: Path) -> str:
    """All text of both splits, documents joined, [EOS] dropped."""
    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    parts = []
    for split in ("train", "val"):
        ids = np.asarray(read_tokens(out, split)).tolist()
        doc: list[int] = []
        for i in ids + [EOS_ID]:
            if i == EOS_ID:
                parts.append(tok.decode(doc))
                doc = []
            else:
                doc.append(i)
    return "".join(parts)


def test_end_to_end_meta_matches_files(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "tok"
    r = run_cli("tokenize", str(corpus), "--out", str(out), "--vocab-size", "300")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == [
        "meta.json",
        "tokenizer.json",
        "train.bin",
        "val.bin",
    ]
    meta = json.loads((out / "meta.json").read_text())
    item = np.dtype(meta["dtype"]).itemsize
    assert meta["dtype"] == "uint16"
    for split in ("train", "val"):
        assert meta["splits"][split]["tokens"] == (out / f"{split}.bin").stat().st_size // item
        assert meta["splits"][split]["tokens"] > 0
    assert sum(s["bytes"] for s in meta["splits"].values()) == len(SAMPLE.encode())
    assert meta["tokenizer"]["sha256"] == file_sha256(out / "tokenizer.json")
    assert meta["tokenizer"]["kind"] == "bpe" and meta["vocab_size"] == 300
    assert meta["special_tokens"] == {"[PAD]": 0, "[UNK]": 1, "[BOS]": 2, "[EOS]": 3, "[MASK]": 4}
    assert meta["sources"] == [{"path": str(corpus), "bytes": corpus.stat().st_size}]
    assert meta["format_version"] == 1 and meta["val_fraction"] == 0.1 and meta["seed"] == 0
    assert _decode_all(out) == SAMPLE  # the token files hold the corpus exactly
    assert "bytes/token" in r.stderr and r.stdout == ""


def test_single_document_split_is_a_tail_slice(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "tok"
    assert run_cli("tokenize", str(corpus), "-o", str(out), "--kind", "char").exit_code == 0
    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    val = tok.decode(np.asarray(read_tokens(out, "val")).tolist())
    assert SAMPLE.endswith(val) and val.startswith("\n") is False
    assert abs(len(val) - 0.1 * len(SAMPLE)) < 120  # cut moved to the next line end only


def test_crlf_bom_and_cr_are_normalised(tmp_path: Path) -> None:
    p = tmp_path / "win.txt"
    p.write_bytes(b"\xef\xbb\xbf" + b"Caf\xc3\xa9 one\r\ntwo\rthree\r\n" * 40)
    out = tmp_path / "tok"
    assert run_cli("tokenize", str(p), "-o", str(out), "--kind", "byte").exit_code == 0
    assert _decode_all(out) == "Café one\ntwo\nthree\n" * 40


def test_directories_globs_gz_jsonl_and_stdin(tmp_path: Path) -> None:
    d = tmp_path / "docs"
    (d / "sub").mkdir(parents=True)
    (d / "a.txt").write_text("alpha text here\n" * 30)
    (d / "sub" / "b.md").write_text("beta text here\n" * 30)
    (d / "skip.png").write_bytes(b"\x89PNG\x00\x00")
    with gzip.open(d / "c.txt.gz", "wt") as f:
        f.write("gamma text here\n" * 30)
    (d / "r.jsonl").write_text(
        "\n".join(json.dumps({"body": f"record {i} says hello"}) for i in range(10)) + "\n"
    )
    out = tmp_path / "tok"
    args = [str(d), str(tmp_path / "extra*.txt"), "-", "-o", str(out), "--kind", "char"]
    args += ["--text-field", "body"]
    r = run_cli("tokenize", *args, input="from stdin\n" * 20)
    assert r.exit_code == 2, "the glob matches nothing yet"
    (tmp_path / "extra1.txt").write_text("delta text here\n" * 30)
    r = run_cli("tokenize", *args, input="from stdin\n" * 20)
    assert r.exit_code == 0, r.output
    meta = json.loads((out / "meta.json").read_text())
    names = [Path(s["path"]).name for s in meta["sources"]]
    assert names == ["a.txt", "c.txt.gz", "r.jsonl", "b.md", "extra1.txt", "<stdin>"]
    assert meta["documents"] == 5 + 10  # four files, stdin, ten records
    assert sum(s["documents"] for s in meta["splits"].values()) == 15
    text = _decode_all(out)
    for word in ("alpha", "beta", "gamma", "delta", "record 7 says", "from stdin"):
        assert word in text
    assert "PNG" not in text
    assert not (out / "stdin.txt").exists()


def test_documents_are_separated_by_eos(tmp_path: Path) -> None:
    for i in range(6):
        (tmp_path / f"doc{i}.txt").write_text(f"document number {i}\n" * 10)
    out = tmp_path / "tok"
    assert (
        run_cli(
            "tokenize",
            *(str(tmp_path / f"doc{i}.txt") for i in range(6)),
            "-o",
            str(out),
            "--kind",
            "char",
            "--val-fraction",
            "0.3",
        ).exit_code
        == 0
    )
    meta = json.loads((out / "meta.json").read_text())
    for split in ("train", "val"):
        ids = np.asarray(read_tokens(out, split))
        assert int((ids == EOS_ID).sum()) == meta["splits"][split]["documents"]
        assert ids[-1] == EOS_ID
    assert meta["splits"]["val"]["documents"] == 2  # 30 % of six equal documents, by document


def test_split_is_deterministic_and_follows_seed(tmp_path: Path) -> None:
    files = []
    for i in range(20):
        p = tmp_path / f"d{i:02}.txt"
        p.write_text(f"text of document {i}\n" * 5)
        files.append(str(p))

    def val_bytes(seed: int, name: str) -> bytes:
        out = tmp_path / name
        assert (
            run_cli(
                "tokenize", *files, "-o", str(out), "--kind", "char", "--seed", str(seed)
            ).exit_code
            == 0
        )
        return (out / "val.bin").read_bytes()

    a = val_bytes(1, "a")
    assert a == val_bytes(1, "b")
    assert a != val_bytes(2, "c")


def test_literal_special_token_text_is_not_a_special(tmp_path: Path) -> None:
    p = tmp_path / "t.txt"
    p.write_text("the [MASK] and [EOS] are words here\n" * 20)
    out = tmp_path / "tok"
    assert run_cli("tokenize", str(p), "-o", str(out), "--kind", "byte").exit_code == 0
    ids = np.asarray(read_tokens(out, "train"))
    assert 4 not in ids and int((ids == EOS_ID).sum()) == 1
    assert _decode_all(out) == "the [MASK] and [EOS] are words here\n" * 20


def test_strip_gutenberg_both_wordings(tmp_path: Path) -> None:
    body = "It was the best of times.\n" * 20
    for i, word in enumerate(("THIS", "THE")):
        (tmp_path / f"g{i}.txt").write_text(
            f"The Project Gutenberg eBook\nLicense blah\n*** START OF {word} PROJECT GUTENBERG "
            f"EBOOK A TALE ***\n{body}*** END OF {word} PROJECT GUTENBERG EBOOK A TALE ***\n"
            "Licence text at the end\n"
        )
    for i in range(2):
        out = tmp_path / f"tok{i}"
        r = run_cli(
            "tokenize",
            str(tmp_path / f"g{i}.txt"),
            "-o",
            str(out),
            "--kind",
            "char",
            "--strip-gutenberg",
        )
        assert r.exit_code == 0, r.output
        assert _decode_all(out) == body
    out = tmp_path / "kept"
    assert (
        run_cli("tokenize", str(tmp_path / "g0.txt"), "-o", str(out), "--kind", "char").exit_code
        == 0
    )
    assert "START OF THIS PROJECT" in _decode_all(out)


def test_reuse_tokenizer_and_force(corpus: Path, tmp_path: Path) -> None:
    first = tmp_path / "first"
    assert run_cli("tokenize", str(corpus), "-o", str(first), "--vocab-size", "280").exit_code == 0
    second = tmp_path / "second"
    r = run_cli(
        "tokenize", str(corpus), "-o", str(second), "--tokenizer", str(first / "tokenizer.json")
    )
    assert r.exit_code == 0, r.output
    assert (first / "train.bin").read_bytes() == (second / "train.bin").read_bytes()
    assert json.loads((second / "meta.json").read_text())["tokenizer"]["kind"] == "bpe"
    r = run_cli("tokenize", str(corpus), "-o", str(second), "--kind", "char", "--force")
    assert r.exit_code == 0
    assert json.loads((second / "meta.json").read_text())["tokenizer"]["kind"] == "char"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_bundled_corpus_is_the_default(tmp_path: Path) -> None:
    out = tmp_path / "tok"
    r = run_cli("tokenize", "-o", str(out), "--kind", "byte", "--json", "-q")
    assert r.exit_code == 0, r.output
    meta = json.loads(r.stdout)
    assert meta["sources"][0]["path"].endswith("shakespeare.txt")
    assert meta["sources"][0]["bytes"] == 1_033_527
    assert r.stderr == ""


def test_options_import_light() -> None:
    """The CLI reads its defaults from TokenizeOptions: importing it pulls in no heavy module."""
    code = (
        "import sys\n"
        "import tinylm.data.options\n"
        "print([m for m in ('torch', 'tokenizers', 'numpy') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
