"""Which block is best per CPU second? Validation loss after the same training time.

    python bench/arch_bench.py [--budget 90] [--repeats 1]

The same causal model size (4 layers, 4 heads, width 128, context 64), the same recipe (Muon +
AdamW, batch 64), the same data; only norm / MLP / positions change (their blocks are in
bench/arch_variants.py). Runs are interleaved.
"""

from __future__ import annotations

import argparse
from functools import partial

import torch
from arch_variants import Variant, build
from common import NANOGPT, full_val_loss, shakespeare_chars, timed_run

from tinylm.model import ModelConfig
from tinylm.train.config import TrainConfig

VARIANTS = {  # the blocks other than tinylm's own (layernorm+gelu+rope) live in arch_variants.py
    "layernorm+gelu+learned": Variant(norm="layernorm", mlp="gelu", pos="learned"),
    "rmsnorm+gelu+learned": Variant(norm="rmsnorm", mlp="gelu", pos="learned"),
    "layernorm+gelu+rope": Variant(norm="layernorm", mlp="gelu", pos="rope"),
    "rmsnorm+gelu+rope": Variant(norm="rmsnorm", mlp="gelu", pos="rope"),
    "rmsnorm+swiglu+rope": Variant(norm="rmsnorm", mlp="swiglu", pos="rope", d_ff=344),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--budget", type=float, default=90.0, help="training seconds per run")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--variants", nargs="*", choices=list(VARIANTS), default=list(VARIANTS))
    args = ap.parse_args()
    torch.set_num_threads(2)
    data = shakespeare_chars()
    cfg = ModelConfig(vocab_size=data.vocab_size, **NANOGPT, objective="causal")
    results: dict[str, list] = {k: [] for k in args.variants}
    for _ in range(args.repeats):
        for name in args.variants:
            run = timed_run(
                cfg,
                TrainConfig(max_steps=10**9),
                data,
                args.budget,
                [],
                lambda m: full_val_loss(m, data),
                seed=args.seed,
                build=partial(build, variant=VARIANTS[name]),
            )
            results[name].append((run["at"][args.budget][0], run["steps"] / run["seconds"]))
            print(
                f"  {name:24s} val {results[name][-1][0]:.4f}  {results[name][-1][1]:.1f} steps/s",
                flush=True,
            )
    print(
        f"\nval loss (nats/char) after {args.budget:g} s of training, 2 threads, best of "
        f"{args.repeats}"
    )
    base = max(r[1] for r in next(iter(results.values())))
    for name, rs in results.items():
        params = build(cfg, VARIANTS[name]).num_params()
        best = min(r[0] for r in rs)
        speed = max(r[1] for r in rs)
        print(
            f"  {name:24s} {params / 1e6:.3f} M params  val {best:.4f}  "
            f"{speed:5.1f} steps/s ({speed / base:.2f}x)"
        )


if __name__ == "__main__":
    main()
