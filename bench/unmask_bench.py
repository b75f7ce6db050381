"""Which unmasking settings should `tinylm generate` use by default for a diffusion model?

Samples from the same prompts of the run's val split with each setting (steps per block, which
tokens a step commits) and prints what the neutral n-gram judge and simple counts make of them,
next to tokens/s. The run is any diffusion (or masked) run directory, e.g. the one
`tinylm compare --train --time 2m --out runs/c2` leaves in runs/c2/diffusion.

    python bench/unmask_bench.py runs/c2/diffusion
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import torch

from tinylm.data.heldout import from_run, run_dir_of
from tinylm.infer.compare import build_judge
from tinylm.infer.config import PREVIEW, UnmaskConfig
from tinylm.infer.judge import sample_stats
from tinylm.infer.loading import load_for_inference
from tinylm.infer.unmask import unmask_generate

SETTINGS = [  # (block length, steps per block, remasking)
    (32, 32, "confidence"),
    (32, 8, "confidence"),
    (16, 16, "confidence"),
    (8, 8, "confidence"),
    (4, 4, "confidence"),
    (32, 32, "random"),
    (8, 8, "random"),
    (32, 32, "left-to-right"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--new-tokens", type=int, default=96)
    args = parser.parse_args()
    torch.set_num_threads(2)
    ckpt, tok = load_for_inference(args.run, "best", torch.device("cpu"))
    judge, _ = build_judge(run_dir_of(args.run))
    held = from_run(args.run, ckpt.tokenizer_path, 1 << 16)
    prompt_len = 16
    starts = torch.linspace(0, len(held) - prompt_len - args.new_tokens - 1, args.prompts).long()
    real = judge.perplexity(
        [(held.ids[s : s + prompt_len + args.new_tokens].tolist(), prompt_len) for s in starts]
    )
    print(f"{args.run}: judge perplexity of the real continuations {real:.1f}")
    cfg = replace(PREVIEW, max_new_tokens=args.new_tokens, stop_at_eos=False)
    for block, steps, remasking in SETTINGS:
        unmask = UnmaskConfig(block_length=block, steps=steps, remasking=remasking)
        scored, texts, n, started = [], [], 0, time.perf_counter()
        for i, s in enumerate(starts.tolist()):
            prompt = held.ids[s : s + prompt_len].tolist()
            g = torch.Generator().manual_seed(i)
            ids = list(unmask_generate(ckpt.model, prompt, cfg, unmask, g, allow_eos=False))
            scored.append((prompt + ids, prompt_len))
            texts.append(tok.decode(ids))
            n += len(ids)
        rate = n / (time.perf_counter() - started)
        stats = sample_stats(texts)
        print(
            f"blocks of {block:2d}, {steps:2d} steps each, {remasking:13s}: "
            f"judge {judge.perplexity(scored):6.1f}, "
            f"distinct-2 {stats['distinct_2']:.1%}, repeated 4-grams {stats['repetition_4']:.1%}, "
            f"{rate:,.0f} tokens/s",
            flush=True,
        )


if __name__ == "__main__":
    main()
