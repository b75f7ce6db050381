"""Which masked recipe wins fill-in-the-blank at the default budget (masked must win its job)?

The job is `tinylm compare`'s: 200 passages of 64 tokens from the bundled corpus's val split
(BPE 2048, the `tinylm train` default data), one blank each in the middle half; top-1 accuracy.
The reference is a causal model of the same size and budget, simulating by rescoring. Every
variant trains the tiny preset for the same training time (default 120 s: `tinylm train`'s
default budget), two seeds.

    python bench/blanks_bench.py                       # every variant, 120 s, seeds 0 and 1
    python bench/blanks_bench.py --only causal masked-30 --budget 60 --seeds 0
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from blank_variants import VARIANTS, settled, variant_setup
from common import timed_run

from tinylm.data.corpus import bundled_corpus
from tinylm.data.prepare import TokenizeOptions, tokenize_corpus
from tinylm.data.tokens import TokenData, fixed_windows, load_token_dir
from tinylm.device import pick_runtime
from tinylm.infer.scoring import blank_accuracy, blanks
from tinylm.validate import evaluate

RUNTIME = pick_runtime(torch.device("cpu"))


def bundled_bpe(work: Path) -> TokenData:
    """The bundled corpus as `tinylm train` tokenizes it by default (BPE 2048)."""
    out = work / "tok"
    if not out.exists():
        tokenize_corpus([str(bundled_corpus())], out, TokenizeOptions())
    return load_token_dir(out)


def run_variant(
    name: str, data: TokenData, budget: float, seed: int, n_blanks: int = 200
) -> tuple[float, dict]:
    """Train one variant for `budget` s of training time; its blank top-1 on the val split, and
    tinylm's validation figures (for a bidirectional model: CE and top-1 at fixed 15 % masks,
    much less noisy than 200 blanks), with the steps it trained."""
    cfg, tcfg, build, trainer_cls = variant_setup(name, data.vocab_size, budget, seed)
    run = timed_run(
        cfg, tcfg, data, budget, [], lambda m: 0.0, seed=seed, build=build, trainer=trainer_cls
    )
    model = settled(run["model"].eval(), cfg)
    windows, positions = blanks(data.val, 64, n_blanks)
    val = evaluate(
        model, fixed_windows(data.val, cfg.block_size + cfg.causal, tcfg.eval_windows), RUNTIME, 1.0
    )
    return blank_accuracy(model, windows, positions)["top1"], {**val, "steps": run["steps"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=float, default=120.0, help="training seconds per run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument(
        "--blanks", type=int, default=200, help="blanks to score (200: tinylm compare's default)"
    )
    parser.add_argument("--only", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    args = parser.parse_args()
    torch.set_num_threads(2)
    data = bundled_bpe(Path(tempfile.mkdtemp(prefix="tinylm-blanks-")))
    print(f"blank top-1 after {args.budget:g} s of training ({args.blanks} blanks, val split)")
    for seed in args.seeds:  # seeds outside, variants inside: drift in the host hits all alike
        for name in args.only:
            top1, val = run_variant(name, data, args.budget, seed, args.blanks)
            extra = "" if val.get("val_acc") is None else f", val top-1 {val['val_acc']:.1%}"
            print(
                f"{name:20s} seed {seed}: {top1:.1%}   (val loss {val['val_loss']:.3f}{extra}, "
                f"{val['steps']} steps)",
                flush=True,
            )


if __name__ == "__main__":
    main()
