"""Which modded-nanogpt speedrun techniques help tinylm's recipe? An ablation, one at a time.

    python bench/speedrun_bench.py                      # all, both objectives: about 2.3 hours
    python bench/speedrun_bench.py --objective causal   # about 1.2 hours
    python bench/speedrun_bench.py --only relu2 qknorm+warmdown --seeds 0 --budget 60

The baseline is tinylm's default recipe exactly (nanoGPT's CPU size, Muon + AdamW, batch 64,
cosine to 0.1), the same as bench/train_bench.py's; each variant changes one thing (or a "+"
combination); the techniques are described in bench/speedrun_variants.py (TECHNIQUES, also in
--help). Char-level tinyshakespeare, full val split, `--budget` seconds of training per run,
evaluation excluded. A variant starts from the baseline's weights at the same seed (new
parameters are constants); the seed also sets the data order. Runs are interleaved: for each
seed, the baseline and then every variant.

causal: val nats/char after the budget (goal <= 1.45 at 180 s) and the training seconds to
        first reach 1.886 (nanoGPT's figure; goal <= 20 s), checked every 1.5 s up to 90 s.
masked: tinylm's masked recipe (30 % masking, 32 windows a step); top-1 at fixed 15 % val
        masks (goal 70 %).
        "smear" is causal-only and skipped here.

Time: each run takes the budget plus its evaluations (causal: a full-val pass every 1.5 s until
1.886 is reached, 90 s at most); default 11 causal + 10 masked variants x 2 seeds x 180 s, so
the hours above are 42 x 180 s of training plus an estimate of the evaluations.
"""

from __future__ import annotations

import argparse
import math
from functools import partial
from statistics import mean

import torch
from common import NANOGPT, full_val_loss, masked_val_acc, shakespeare_chars, timed_run
from speedrun_variants import (
    CAUSAL_ONLY,
    TECHNIQUES,
    Spec,
    build,
    cap_of,
    parse_spec,
    soft_capped_heads,
    spec_name,
    trainer_for,
)
from train_bench import TARGET

from tinylm.data.tokens import TokenData
from tinylm.model import ModelConfig
from tinylm.train.config import TrainConfig, default_batch_size, default_batch_warmup

MARK_EVERY, MARK_UNTIL = 1.5, 90.0  # when the causal val is checked against TARGET
GOALS = {"causal": "<= 1.45", "masked": ">= 70 %"}  # issue 12: val nats/char, top-1
WARM_UP = 2.0  # seconds of a discarded run, so the first timed one pays no one-time costs


def _spec(text: str) -> Spec:
    try:
        return parse_spec(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def run_one(objective: str, spec: Spec, data: TokenData, budget: float, seed: int) -> dict:
    """Train one variant for `budget` s; steps, the final figure, and (causal) seconds to TARGET."""
    with soft_capped_heads(cap_of(spec)):
        return _run_one(objective, spec, data, budget, seed)


def _run_one(objective: str, spec: Spec, data: TokenData, budget: float, seed: int) -> dict:
    cfg = ModelConfig(vocab_size=data.vocab_size, **NANOGPT, objective=objective)
    tcfg = TrainConfig(
        max_steps=10**9,
        seed=seed,
        batch_size=default_batch_size("tiny", objective),
        batch_warmup=default_batch_warmup(objective),
    )
    kw = dict(seed=seed, build=partial(build, spec=spec), trainer=trainer_for(spec, budget))
    if objective == "masked":
        run = timed_run(cfg, tcfg, data, budget, [], lambda m: masked_val_acc(m, data)[1], **kw)
        return {"steps": run["steps"], "value": run["at"][budget][0], "reached": None}
    reached_at: list[float] = []

    def val(model: torch.nn.Module) -> float:
        if reached_at:  # once TARGET is reached the checks stop; the final val is taken below
            return math.nan
        loss = full_val_loss(model, data)
        if loss <= TARGET:
            reached_at.append(loss)
        return loss

    marks = [MARK_EVERY * i for i in range(1, int(min(budget, MARK_UNTIL) / MARK_EVERY) + 1)]
    run = timed_run(cfg, tcfg, data, budget, [m for m in marks if m < budget], val, **kw)
    final = run["at"][budget][0]
    if math.isnan(final):
        final = full_val_loss(run["model"], data)
    at = sorted(t for t, (v, _) in run["at"].items() if t < budget and v <= TARGET)
    return {"steps": run["steps"], "value": final, "reached": at[0] if at else None}


def warm_up(objective: str, data: TokenData) -> None:
    """Train the baseline briefly and throw it away: kernels and allocator caches get set up."""
    cfg = ModelConfig(vocab_size=data.vocab_size, **NANOGPT, objective=objective)
    timed_run(cfg, TrainConfig(max_steps=10**9), data, WARM_UP, [], lambda m: 0.0)


def _figure(objective: str, value: float) -> str:
    return f"top-1 {value:6.2%}" if objective == "masked" else f"val {value:.4f}"


def _when(reached: float | None) -> str:
    return "   -  " if reached is None else f"{reached:5.1f} s"


def print_row(objective: str, name: str, seed: int, r: dict, width: int) -> None:
    """One finished run."""
    when = f"  {TARGET} at {_when(r['reached'])}" if objective == "causal" else ""
    print(
        f"  {objective:6s} {name:{width}s} seed {seed}  {r['steps']:6d} steps  "
        f"{_figure(objective, r['value'])}{when}",
        flush=True,
    )


def print_summary(
    objective: str, results: dict[str, list[dict]], budget: float, vocab: int, width: int
) -> None:
    """Means over seeds and the mean difference from the baseline at the same seed."""
    masked = objective == "masked"
    unit = "top-1 at fixed 15 % masks" if masked else "val nats/char"
    print(
        f"\n{objective}: {unit} after {budget:g} s ({'higher' if masked else 'lower'} is "
        f"better; goal {GOALS[objective]}); wins = seeds on which the variant beat the baseline"
    )
    when = "" if masked else f"  {TARGET} at (mean)"
    print(f"  {'variant':{width}s}   params seeds   steps     mean     diff  wins{when}")
    base = {r["seed"]: r["value"] for r in results["baseline"]}
    cfg = ModelConfig(vocab_size=vocab, **NANOGPT, objective=objective)
    for name, rs in results.items():
        diffs = [r["value"] - base[r["seed"]] for r in rs]
        won = sum(d > 0 if masked else d < 0 for d in diffs)
        params = build(cfg, parse_spec(name)).num_params() / 1e6
        value, diff = mean(r["value"] for r in rs), mean(diffs)
        line = (
            f"  {name:{width}s} {params:7.3f}M {len(rs):5d} {mean(r['steps'] for r in rs):7.0f} "
            + (f"{value:8.2%} {diff:+8.2%}" if masked else f"{value:8.4f} {diff:+8.4f}")
            + ("     -" if name == "baseline" else f"  {won:2d}/{len(rs)}")
        )
        if not masked:
            times = [r["reached"] for r in rs]
            line += "   " + ("   -" if None in times else f"{mean(times):5.1f} s")
        print(line)


def main() -> None:
    names = "\n".join(f"  {k:10s} {v}" for k, v in TECHNIQUES.items())
    ap = argparse.ArgumentParser(
        description=__doc__ + "\ntechniques:\n" + names,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "--only",
        nargs="+",
        type=_spec,
        default=[frozenset({n}) for n in TECHNIQUES],
        help="variants to run against the baseline: technique names, or several joined by '+' "
        "for a combination (default: every technique alone)",
    )
    ap.add_argument("--budget", type=float, default=180.0, help="training seconds per run")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--objective", choices=["causal", "masked", "both"], default="both")
    args = ap.parse_args()
    if args.budget <= 0:
        ap.error("--budget must be positive")
    torch.set_num_threads(2)
    data = shakespeare_chars()
    specs = [frozenset()] + [s for s in dict.fromkeys(args.only) if s]
    width = max(len(spec_name(s)) for s in specs)
    objectives = ["causal", "masked"] if args.objective == "both" else [args.objective]
    print(
        f"speedrun ablation: char tinyshakespeare, nanoGPT CPU size, {args.budget:g} s of "
        f"training per run, seeds {' '.join(map(str, args.seeds))}, 2 threads"
    )
    for objective in objectives:
        runnable = [s for s in specs if objective == "causal" or not s & CAUSAL_ONLY]
        for s in specs:
            if s not in runnable:
                print(f"  {objective}: {spec_name(s)} skipped (causal only)")
        results: dict[str, list[dict]] = {spec_name(s): [] for s in runnable}
        warm_up(objective, data)
        for seed in args.seeds:  # seeds outside, variants inside: drift in the host hits all alike
            for spec in runnable:
                r = run_one(objective, spec, data, args.budget, seed)
                results[spec_name(spec)].append({**r, "seed": seed})
                print_row(objective, spec_name(spec), seed, r, width)
        print_summary(objective, results, args.budget, data.vocab_size, width)
        print()


if __name__ == "__main__":
    main()
