"""Sampling speed: KV-cached generation vs nanoGPT-style full recompute; fill-mask latency.

    python bench/generate_bench.py [--tokens 500] [--repeats 3]

Batch 1, CPU, 2 threads, random weights (speed does not depend on training), both loops sampling
with the same float32 multinomial. nanoGPT-style = crop the context to the block and run the whole
window every step, as nanoGPT's `generate` does. Runs are interleaved; best of `repeats`.
Time to first token = prompt of 32 tokens in, first new token out. fill-mask latency = the whole
`tinylm fill-mask RUN TEXT` command, Python start-up included, on a checkpoint trained here,
next to the floor under it: a bare `python -c 'import torch'`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from tinylm.infer.config import SamplingConfig
from tinylm.infer.sampling import generate
from tinylm.model import ModelConfig, Transformer
from tinylm.train.config import DROPOUT

VOCAB = 70  # a char-level Shakespeare vocabulary, as in the 0.8 M and 10 M models
SIZES = {
    "0.8 M, context 64": dict(n_layer=4, n_head=4, d_model=128, block_size=64),
    "10 M, context 256": dict(n_layer=6, n_head=6, d_model=384, block_size=256),
}


@torch.no_grad()
def nanogpt_style(model: Transformer, prompt: list[int], n: int, g: torch.Generator) -> list[int]:
    idx = torch.tensor([prompt])
    for _ in range(n):
        window = idx[:, -model.config.block_size :]
        last = torch.zeros(window.shape, dtype=torch.bool)
        last[0, -1] = True  # nanoGPT also runs the head on the last position only
        logits = model(window, select=last)[0].float()
        nxt = torch.multinomial(logits.softmax(-1), 1, generator=g)
        idx = torch.cat((idx, nxt.view(1, 1)), dim=1)
    return idx[0, len(prompt) :].tolist()


def tinylm_cached(model: Transformer, prompt: list[int], n: int, g: torch.Generator) -> list[int]:
    cfg = SamplingConfig(max_new_tokens=n, temperature=1.0, stop_at_eos=False)
    return list(generate(model, prompt, cfg, g))


def speed(n_tokens: int, repeats: int) -> None:
    print(f"generation, batch 1, {n_tokens} new tokens, 2 threads, best of {repeats}")
    for name, shape in SIZES.items():
        torch.manual_seed(0)
        cfg = ModelConfig(vocab_size=VOCAB, **shape, dropout=DROPOUT, objective="causal")
        model = Transformer(cfg).eval()
        prompt = torch.randint(5, VOCAB, (32,)).tolist()
        best = {"nanoGPT-style": 0.0, "tinylm (KV cache)": 0.0}
        ttft = {"nanoGPT-style": float("inf"), "tinylm (KV cache)": float("inf")}
        fns = {"nanoGPT-style": nanogpt_style, "tinylm (KV cache)": tinylm_cached}
        for _ in range(repeats):
            for label, fn in fns.items():
                t0 = time.perf_counter()
                fn(model, prompt, 1, torch.Generator().manual_seed(0))
                ttft[label] = min(ttft[label], time.perf_counter() - t0)
                t0 = time.perf_counter()
                out = fn(model, prompt, n_tokens, torch.Generator().manual_seed(0))
                assert len(out) == n_tokens
                best[label] = max(best[label], n_tokens / (time.perf_counter() - t0))
        ratio = best["tinylm (KV cache)"] / best["nanoGPT-style"]
        print(f"  {name} ({model.num_params() / 1e6:.2f} M params):")
        for label in fns:
            first = ttft[label] * 1e3
            print(f"    {label:18s} {best[label]:7.0f} tokens/s, first token {first:5.1f} ms")
        print(f"    speed-up {ratio:.1f}x", flush=True)


def fill_mask_latency(repeats: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        run = Path(d) / "bert"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "tinylm",
                "train",
                "--objective",
                "masked",
                "--max-steps",
                "20",
                "--out",
                str(run),
                "-q",
            ],
            check=True,
        )
        times, floor = [], []
        for _ in range(max(repeats, 5)):  # interleaved with the floor: `import torch` alone
            t0 = time.perf_counter()
            subprocess.run(
                ["tinylm", "fill-mask", str(run), "To be, or not to [MASK]."],
                check=True,
                capture_output=True,
            )
            times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import torch"], check=True)
            floor.append(time.perf_counter() - t0)
    print(
        f"tinylm fill-mask end to end (process start to exit), {len(times)} runs: "
        f"median {statistics.median(times):.2f} s, best {min(times):.2f} s; "
        f"`python -c 'import torch'` alone: median {statistics.median(floor):.2f} s, "
        f"best {min(floor):.2f} s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--tokens", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(2)
    speed(args.tokens, args.repeats)
    fill_mask_latency(args.repeats)


if __name__ == "__main__":
    main()
