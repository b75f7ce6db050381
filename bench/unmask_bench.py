"""Which unmasking settings should `tinylm generate` use by default for a diffusion model?

Samples from the same prompts of the run's val split with each setting (block length, steps per
block, which tokens a step commits) and prints what the neutral n-gram judge and simple counts
make of them, next to tokens/s. With --causal, a causal run of the same data samples from the
same prompts first, as the reference a diffusion sampler is held to. The run is any diffusion
(or masked) run directory, e.g. the one `tinylm compare --train --time 2m --out runs/c2` leaves
in runs/c2/diffusion.

    python bench/unmask_bench.py runs/c2/diffusion
    python bench/unmask_bench.py runs/c2/diffusion --causal runs/c2/causal --prompts 64 \
        --new-tokens 100 --only 32x32-random
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch

from tinylm.data.heldout import from_run, run_dir_of
from tinylm.infer.compare import build_judge
from tinylm.infer.config import PREVIEW, SamplingConfig, UnmaskConfig
from tinylm.infer.judge import NGramJudge, sample_stats
from tinylm.infer.loading import load_for_inference
from tinylm.infer.sampling import generate
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
PROMPT_LEN = 16


def _name(block: int, steps: int, remasking: str) -> str:
    return f"{block}x{steps}-{remasking}"


def _pct(share: float | None) -> str:
    """A share as a percentage; "-" where the samples are too short to say (sample_stats)."""
    return "-" if share is None else f"{share:.1%}"


def _score(
    label: str,
    draw: Callable[[list[int], torch.Generator], list[int]],
    prompts: list[list[int]],
    judge: NGramJudge,
    decode: Callable[[list[int]], str],
) -> None:
    """Sample from every prompt (seed i for prompt i) and print the judge's and counts' view."""
    scored, texts, n, started = [], [], 0, time.perf_counter()
    for i, prompt in enumerate(prompts):
        ids = draw(prompt, torch.Generator().manual_seed(i))
        scored.append((prompt + ids, PROMPT_LEN))
        texts.append(decode(ids))
        n += len(ids)
    rate = n / (time.perf_counter() - started)
    stats = sample_stats(texts)
    print(
        f"{label:44s}: judge {judge.perplexity(scored):6.1f}, "
        f"distinct-2 {_pct(stats['distinct_2'])}, repeated 4-grams {_pct(stats['repetition_4'])}, "
        f"{rate:,.0f} tokens/s",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--causal", type=Path, help="a causal run of the same data: the reference")
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--new-tokens", type=int, default=96)
    names = [_name(*s) for s in SETTINGS]
    parser.add_argument("--only", nargs="+", choices=names, default=names)
    args = parser.parse_args()
    torch.set_num_threads(2)
    ckpt, tok = load_for_inference(args.run, "best", torch.device("cpu"))
    judge, _ = build_judge(run_dir_of(args.run))
    held = from_run(args.run, ckpt.tokenizer_path, 1 << 16)
    last = len(held) - PROMPT_LEN - args.new_tokens - 1
    starts = torch.linspace(0, last, args.prompts).long().tolist()
    prompts = [held.ids[s : s + PROMPT_LEN].tolist() for s in starts]
    real = [held.ids[s : s + PROMPT_LEN + args.new_tokens].tolist() for s in starts]
    stats = sample_stats([tok.decode(r[PROMPT_LEN:]) for r in real])
    print(
        f"{args.run}: the real continuations: judge "
        f"{judge.perplexity([(r, PROMPT_LEN) for r in real]):.1f}, "
        f"distinct-2 {stats['distinct_2']:.1%}"
    )
    cfg: SamplingConfig = replace(PREVIEW, max_new_tokens=args.new_tokens, stop_at_eos=False)
    if args.causal is not None:
        causal, _ = load_for_inference(args.causal, "best", torch.device("cpu"))
        _score(
            f"causal reference ({args.causal})",
            lambda p, g: list(generate(causal.model, p, cfg, g)),
            prompts,
            judge,
            tok.decode,
        )
    for block, steps, remasking in SETTINGS:
        if _name(block, steps, remasking) not in args.only:
            continue
        unmask = UnmaskConfig(block_length=block, steps=steps, remasking=remasking)
        _score(
            f"blocks of {block:2d}, {steps:2d} steps each, {remasking}",
            lambda p, g, u=unmask: list(unmask_generate(ckpt.model, p, cfg, u, g, allow_eos=False)),
            prompts,
            judge,
            tok.decode,
        )


if __name__ == "__main__":
    main()
