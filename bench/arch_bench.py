"""Which block is best per CPU second? Validation loss after the same training time.

    python bench/arch_bench.py [--budget 90] [--repeats 1]

The same causal model size (4 layers, 4 heads, width 128, context 64), the same recipe (Muon +
AdamW, batch 64), the same data; only norm / MLP / positions change. Runs are interleaved.
"""

from __future__ import annotations

import argparse

import torch
from common import NANOGPT, full_val_loss, shakespeare_chars, timed_run

from tinylm.model import ModelConfig, Transformer
from tinylm.train.config import TrainConfig

VARIANTS = {
    "layernorm+gelu+learned": dict(norm="layernorm", mlp="gelu", pos="learned"),
    "rmsnorm+gelu+learned": dict(norm="rmsnorm", mlp="gelu", pos="learned"),
    "layernorm+gelu+rope": dict(norm="layernorm", mlp="gelu", pos="rope"),
    "rmsnorm+gelu+rope": dict(norm="rmsnorm", mlp="gelu", pos="rope"),
    "rmsnorm+swiglu+rope": dict(norm="rmsnorm", mlp="swiglu", pos="rope", d_ff=344),
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
    results: dict[str, list] = {k: [] for k in args.variants}
    for _ in range(args.repeats):
        for name in args.variants:
            arch = VARIANTS[name]
            cfg = ModelConfig(vocab_size=data.vocab_size, **NANOGPT, **arch)
            tcfg = TrainConfig(max_steps=10**9)
            run = timed_run(
                cfg, tcfg, data, args.budget, [], lambda m: full_val_loss(m, data), seed=args.seed
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
        params = Transformer(
            ModelConfig(vocab_size=data.vocab_size, **NANOGPT, **VARIANTS[name])
        ).num_params()
        best = min(r[0] for r in rs)
        speed = max(r[1] for r in rs)
        print(
            f"  {name:24s} {params / 1e6:.3f} M params  val {best:.4f}  "
            f"{speed:5.1f} steps/s ({speed / base:.2f}x)"
        )


if __name__ == "__main__":
    main()
