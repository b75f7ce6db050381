"""Does a longer `tinylm train` end where it was best? Best and last val of real runs.

On the bundled corpus (1 MB, 334 k BPE tokens) the default causal model reached its best val
at about 8 epochs (170 s) and then rose for the rest of a 10-minute run. Each variant here is a
plain `tinylm train` on the bundled corpus with extra options; the table gives the best val, when
it came, the last val and how far last is above best (target: within 2 %).

    python bench/long_run_bench.py                          # 10 minutes: off vs the default
    python bench/long_run_bench.py --time 2m --seeds 1337 7  # the 2-minute check, two seeds
    python bench/long_run_bench.py --variant "off=--repeat-dropout 0" \\
        --variant "d0.3=--repeat-dropout 0.3"

Runs one after another: about (time + 10 %) x variants x seeds.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

DEFAULT_VARIANTS = ["off=--repeat-dropout 0", "default="]


def train(out: Path, time: str, seed: int, objective: str, extra: list[str]) -> list[dict]:
    """One `tinylm train` run; its eval events."""
    cmd = [sys.executable, "-m", "tinylm", "train", "--out", str(out), "--time", time]
    cmd += ["--seed", str(seed), "--objective", objective, "--quiet", *extra]
    subprocess.run(cmd, check=True)
    events = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [e for e in events if e.get("event") == "eval"]


def summary(evals: list[dict]) -> dict:
    """Best and last val, and where the best came."""
    best = min(evals, key=lambda e: e["val_loss"])
    last = evals[-1]
    return {
        "best": best["val_loss"],
        "best_at": best["elapsed"],
        "last": last["val_loss"],
        "gap": last["val_loss"] / best["val_loss"] - 1.0,
        "evals": len(evals),
        "steps": last["step"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time", default="10m")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1337])
    ap.add_argument("--objective", default="causal")
    ap.add_argument("--variant", action="append", help="NAME=OPTIONS for tinylm train")
    args = ap.parse_args()
    variants = [v.split("=", 1) for v in (args.variant or DEFAULT_VARIANTS)]
    work = Path(tempfile.mkdtemp(prefix="tinylm-long-"))
    print(f"{args.objective}, --time {args.time}, bundled corpus; runs in {work}", flush=True)
    print(f"{'variant':<12}{'seed':>6}{'steps':>7}{'best':>8}{'at s':>7}{'last':>8}{'gap':>8}")
    for seed in args.seeds:  # interleaved: every variant once per seed
        for name, options in variants:
            evals = train(work / f"{name}-{seed}", args.time, seed, args.objective,
                          shlex.split(options))  # fmt: skip
            s = summary(evals)
            print(
                f"{name:<12}{seed:>6}{s['steps']:>7}{s['best']:>8.3f}{s['best_at']:>7.0f}"
                f"{s['last']:>8.3f}{s['gap']:>+8.1%}",
                flush=True,
            )


if __name__ == "__main__":
    main()
