"""Tune the default causal recipe: full val loss after a fixed CPU budget, one variant at a time.

    python bench/recipe_bench.py [--budget 180] VARIANT...

Variants are TrainConfig overrides, e.g. `lr_final=0.0` or `muon_lr=0.03,lr=0.005`; `default` is
the shipped recipe. Same model (tiny), data and seed for every variant.
"""

from __future__ import annotations

import argparse
import ast

import torch
from common import NANOGPT, full_val_loss, shakespeare_chars, timed_run

from tinylm.model import ModelConfig
from tinylm.train.config import TrainConfig


def parse(variant: str) -> dict:
    if variant == "default":
        return {}
    pairs = (kv.split("=", 1) for kv in variant.split(","))
    return {k: ast.literal_eval(v) for k, v in pairs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("variants", nargs="+")
    ap.add_argument("--budget", type=float, default=180.0)
    args = ap.parse_args()
    torch.set_num_threads(2)
    data = shakespeare_chars()
    cfg = ModelConfig(vocab_size=data.vocab_size, **NANOGPT, objective="causal")
    for variant in args.variants:
        tcfg = TrainConfig(max_steps=10**9, **parse(variant))
        run = timed_run(cfg, tcfg, data, args.budget, [], lambda m: full_val_loss(m, data))
        print(
            f"  {variant:32s} val {run['at'][args.budget][0]:.4f} after {args.budget:g} s "
            f"({run['steps']} steps)",
            flush=True,
        )


if __name__ == "__main__":
    main()
