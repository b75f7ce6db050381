"""Benchmark `tinylm tokenize`: encode throughput vs raw `tokenizers`, and peak RSS vs corpus size.

    python bench/tokenize_bench.py          # throughput on ~20 MB, RSS at ~50 MB and ~200 MB
    python bench/tokenize_bench.py --quick  # smaller sizes, for a smoke run

Throughput: the same text and the same trained tokenizer, timed in this one process:
  raw    = read the file, cut it into ~16 KB newline-ended chunks, `encode_batch` in 2 MB batches
  tinylm = `tokenize_corpus(..., tokenizer_path=...)`: scan, encode, write the token files
Memory: a full `tinylm tokenize` (BPE training included) of a corpus made by repeating the bundled
text, each run in a fresh process, reporting its peak RSS (ru_maxrss).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tokenizers import Tokenizer

from tinylm.data.corpus import bundled_corpus
from tinylm.data.encode import BATCH_CHARS
from tinylm.data.options import TokenizeOptions
from tinylm.data.prepare import tokenize_corpus
from tinylm.data.text import CHUNK_CHARS

MB = 1_000_000


def synth_corpus(path: Path, megabytes: int) -> int:
    """Repeat the bundled corpus until the file holds about `megabytes` MB; return its size."""
    text = bundled_corpus().read_bytes()
    with open(path, "wb") as f:
        for _ in range(max(1, round(megabytes * MB / len(text)))):
            f.write(text)
    return path.stat().st_size


def raw_encode(path: Path, tok: Tokenizer) -> int:
    """The baseline: plain `encode_batch` over newline-ended chunks; returns the token count."""
    text = path.read_text(encoding="utf-8")
    chunks, pos = [], 0
    while pos < len(text):
        cut = text.find("\n", pos + CHUNK_CHARS)
        cut = len(text) if cut < 0 else cut + 1
        chunks.append(text[pos:cut])
        pos = cut
    tokens, batch, size = 0, [], 0
    for c in chunks:
        batch.append(c)
        size += len(c)
        if size >= BATCH_CHARS:
            tokens += sum(len(e.ids) for e in tok.encode_batch(batch, add_special_tokens=False))
            batch, size = [], 0
    if batch:
        tokens += sum(len(e.ids) for e in tok.encode_batch(batch, add_special_tokens=False))
    return tokens


def throughput(work: Path, megabytes: int, repeats: int) -> None:
    corpus = work / "thr.txt"
    nbytes = synth_corpus(corpus, megabytes)
    tok_dir = work / "tok"
    tokenize_corpus([str(bundled_corpus())], tok_dir, TokenizeOptions(), force=True)
    tok = Tokenizer.from_file(str(tok_dir / "tokenizer.json"))
    opts = TokenizeOptions(tokenizer_path=tok_dir / "tokenizer.json")
    best = {"raw": float("inf"), "tinylm": float("inf")}
    for _ in range(repeats):  # interleaved, best of n: the host is noisy
        t0 = time.perf_counter()
        raw_tokens = raw_encode(corpus, tok)
        best["raw"] = min(best["raw"], time.perf_counter() - t0)
        t0 = time.perf_counter()
        meta = tokenize_corpus([str(corpus)], work / "out", opts, force=True)
        best["tinylm"] = min(best["tinylm"], time.perf_counter() - t0)
    ours = sum(s["tokens"] for s in meta["splits"].values())
    print(
        f"encode throughput on {nbytes / MB:.1f} MB, bpe vocab {tok.get_vocab_size()}, "
        f"{os.cpu_count()} CPUs, best of {repeats}"
    )
    for name in ("raw", "tinylm"):
        print(f"  {name:7s} {best[name]:6.2f} s  {nbytes / MB / best[name]:6.2f} MB/s")
    print(
        f"  ratio tinylm/raw throughput: {best['raw'] / best['tinylm']:.2f}x "
        f"(tokens: raw {raw_tokens:,}, tinylm {ours:,} incl. {meta['documents']} [EOS])"
    )


def peak_rss(work: Path, megabytes: int) -> None:
    corpus = work / f"rss{megabytes}.txt"
    nbytes = synth_corpus(corpus, megabytes)
    code = (
        "import resource, sys, time\n"
        "from pathlib import Path\n"
        "from tinylm.data.options import TokenizeOptions\n"
        "from tinylm.data.prepare import tokenize_corpus\n"
        "t = time.perf_counter()\n"
        "tokenize_corpus([sys.argv[1]], Path(sys.argv[2]), TokenizeOptions(), force=True)\n"
        "rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "print(f'{rss:.0f} {time.perf_counter() - t:.1f}')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(corpus), str(work / "rss_out")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    print(
        f"  corpus {nbytes / MB:6.1f} MB: peak RSS {out[0]:>5s} MB, {out[1]} s "
        f"(full tokenize, BPE training included)"
    )
    corpus.unlink()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    sizes = (5, 20) if args.quick else (50, 200)
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        throughput(work, 5 if args.quick else 20, args.repeats)
        print("peak memory of `tinylm tokenize` as the corpus grows:")
        for mb in sizes:
            peak_rss(work, mb)


if __name__ == "__main__":
    main()
