"""Does llama.cpp run a model that `tinylm export --format gguf` wrote, and as tinylm does?

Exports a causal run with the byte-level BPE tokenizer to GGUF, loads it with llama-cpp-python,
checks that llama.cpp tokenizes the prompts as tinylm does and that its greedy tokens equal
tinylm's (`tinylm generate -t 0`, the same sampler in process and through the command), then
times both on the same prompts and threads. Not for CI: llama-cpp-python builds llama.cpp from
source (`pip install llama-cpp-python`, minutes).

    tinylm train --time 1m --out runs/gguf
    python bench/gguf_bench.py runs/gguf
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from tinylm.data.vocab import EOS_ID
from tinylm.export.directory import GGUF_FILE, export_checkpoint
from tinylm.infer.config import SamplingConfig
from tinylm.infer.loading import encode_text, load_for_inference
from tinylm.infer.sampling import generate

PROMPTS = ("ROMEO:", "HAMLET.\nTo be, or not", "First Citizen:\nBefore we proceed", "The king")


def _llama(path: Path, n_ctx: int, threads: int):  # noqa: ANN202
    try:
        from llama_cpp import Llama
    except ImportError:
        sys.exit("llama_cpp is not installed (pip install llama-cpp-python builds it); skipped.")
    return Llama(str(path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, verbose=False)


def _llama_greedy(llm, ids: list[int], n: int) -> list[int]:  # noqa: ANN001
    out = []
    for token in llm.generate(ids, top_k=1, top_p=1.0, min_p=0.0, temp=0.0, repeat_penalty=1.0):
        if token == EOS_ID or len(out) == n:
            break
        out.append(token)
    return out


def _timed(fn, repeats: int) -> tuple[list[int], float]:  # noqa: ANN001
    """fn's tokens and its median tokens/s over `repeats` runs, after one warm-up run."""
    tokens = fn()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        rates.append(len(tokens) / (time.perf_counter() - start))
    return tokens, statistics.median(rates)


def _command_text(run: Path, prompt: str, n: int) -> str:
    """What `tinylm generate -t 0` prints for `prompt` (the command, in a child process)."""
    args = ["tinylm", "generate", str(run), "-p", prompt, "-t", "0", "-n", str(n), "--json"]
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)["text"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ckpt, tok = load_for_inference(args.run, "best", torch.device("cpu"))
    block = ckpt.config.block_size
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "gguf"
        start = time.perf_counter()
        export_checkpoint(ckpt, tok, out, fmt="gguf")
        size = (out / GGUF_FILE).stat().st_size
        print(f"export: {time.perf_counter() - start:.2f} s, {size / 2**20:.1f} MiB")
        llm = _llama(out / GGUF_FILE, block, args.threads)
        rows = [_compare(llm, ckpt.model, tok, args, p, block) for p in PROMPTS]
    same = sum(r["same"] for r in rows)
    ours = statistics.median(r["tinylm"] for r in rows)
    theirs = statistics.median(r["llama"] for r in rows)
    print(
        f"{same}/{len(rows)} prompts: identical greedy tokens; tokens/s (median over prompts): "
        f"tinylm {ours:.0f}, llama.cpp {theirs:.0f} ({theirs / ours:.2f}x), "
        f"{args.threads} threads, {ckpt.model.num_params():,} parameters, context {block}"
    )


def _compare(llm, model, tok, args, prompt: str, block: int) -> dict:  # noqa: ANN001
    ids, _ = encode_text(tok, prompt)
    theirs_ids = llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=False)
    n = block - len(ids)  # within the context: tinylm's window never slides
    cfg = SamplingConfig(max_new_tokens=n, temperature=0.0)
    ours, our_rate = _timed(lambda: list(generate(model, ids, cfg)), args.repeats)
    theirs, their_rate = _timed(lambda: _llama_greedy(llm, ids, n), args.repeats)
    command = _command_text(args.run, prompt, n)
    same = ours == theirs and theirs_ids == ids and command == tok.decode(theirs)
    pairs = enumerate(zip(ours, theirs, strict=False))
    first = next((i for i, (a, b) in pairs if a != b), min(len(ours), len(theirs)))
    print(
        f"{prompt!r}: {len(ours)} tokens, tokenized alike: {theirs_ids == ids}, "
        f"same tokens: {ours == theirs}"
        + ("" if ours == theirs else f" (first difference at {first})")
        + f", command text alike: {command == tok.decode(theirs)}; tokens/s tinylm "
        f"{our_rate:.0f}, llama.cpp {their_rate:.0f}"
    )
    return {"same": same, "tinylm": our_rate, "llama": their_rate}


if __name__ == "__main__":
    main()
