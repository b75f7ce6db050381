"""Memory and kernel time of the default `tinylm train`, and the peak RSS of `tinylm tokenize`.

    python bench/memory_bench.py                  # the default run: bundled corpus, 2 minutes
    python bench/memory_bench.py --time 30s       # shorter
    python bench/memory_bench.py --repo /tmp/old  # the tinylm of another checkout (a worktree)

Each command runs in a fresh child process (`python -m tinylm ...`) and is measured from its own
resource usage (os.wait4: peak RSS, minor page faults, user and system CPU time), as
`/usr/bin/time -v` reports them. The kernel share is system / (user + system) CPU time. The
train run's metrics.jsonl gives its steps, its evaluations and the share of the wall clock they
took. The floor lines: importing torch; importing it and building a torch.optim optimizer (which
imports torch._dynamo: tinylm's own optimizers avoid it); and five bare training steps of the
default model, batch and optimizers with glibc's defaults, nothing else (the autograd working set
of the step on top). The train line is the default command as a user runs it, sample included.
Run it alone (through the lock): two heavy jobs at once change the time figures, not the memory.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MB = 1_000_000
FLOORS = {
    "import torch": "import torch",
    # torch.optim.Optimizer imports torch._dynamo when built; tinylm's own optimizers do not
    "import torch + torch.optim.AdamW": (
        "import torch; torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))])"
    ),
    # the default model, batch and optimizers with nothing else, glibc's defaults: 5 bare steps,
    # each batch in the trainer's CPU slices
    "bare steps (tiny, batch 64, vocab 2048)": """
import torch
from tinylm.model import Transformer
from tinylm.train.config import BATCH_SIZES, CPU_SLICE_TOKENS
from tinylm.train.objectives import causal_task, task_loss
from tinylm.train.optim import build_optimizers
from tinylm.train.setup import build_model_config
model = Transformer(build_model_config(2048, "causal", "tiny", {}))
opt = build_optimizers(model, "muon", 3e-3, 0.02, 0.0, True)
rows = CPU_SLICE_TOKENS // 65
for _ in range(5):
    task = causal_task(torch.randint(0, 2048, (BATCH_SIZES["tiny"], 65)))
    for i in range(0, BATCH_SIZES["tiny"], rows):
        task_loss(model, task.rows(slice(i, i + rows))).backward()
    opt.step()
    opt.zero_grad()
""",
}


def measure(cmd: list[str], env: dict[str, str], cwd: Path) -> dict:
    """Run `cmd` to the end; its peak RSS (MB), minor faults, user/system seconds and wall time."""
    log = cwd / "stderr.txt"
    t0 = time.perf_counter()
    with open(log, "wb") as err:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code:
        tail = log.read_text(errors="replace")[-2000:]
        raise SystemExit(f"{' '.join(cmd)} failed with exit code {code}:\n{tail}")
    cpu = ru.ru_utime + ru.ru_stime
    return {
        "peak_rss_mb": ru.ru_maxrss * 1024 / MB,  # Linux reports kilobytes
        "minor_faults": ru.ru_minflt,
        "user_s": ru.ru_utime,
        "system_s": ru.ru_stime,
        "kernel_share": ru.ru_stime / cpu if cpu else 0.0,
        "wall_s": wall,
    }


def eval_figures(run: Path) -> dict:
    """Steps, evaluations and the share of the run's wall clock spent evaluating."""
    events = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    evals = [e for e in events if e["event"] == "eval"]
    elapsed = max(e["elapsed"] for e in events)
    spent = sum(e.get("seconds", 0.0) for e in evals)
    return {
        "steps": max(e["step"] for e in events),
        "evals": len(evals),
        "eval_at_s": [round(e["elapsed"]) for e in evals],
        "eval_share": spent / elapsed if elapsed else 0.0,
        "final_val": evals[-1]["val_loss"],
    }


def synth_corpus(path: Path, copies: int, bundled: Path) -> None:
    """The bundled corpus repeated `copies` times."""
    text = bundled.read_bytes()
    with open(path, "wb") as f:
        for _ in range(copies):
            f.write(text)


def show(name: str, m: dict) -> None:
    print(
        f"{name:40s} peak RSS {m['peak_rss_mb']:6.0f} MB  minor faults {m['minor_faults']:>10,}  "
        f"user {m['user_s']:6.1f} s  system {m['system_s']:5.1f} s  "
        f"kernel {m['kernel_share']:5.1%}  wall {m['wall_s']:6.1f} s",
        flush=True,
    )


def main() -> None:
    """Parse the options, run the commands, print one line each."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time", default=None, help="train budget (default: tinylm's own, 2m)")
    ap.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[1])
    ap.add_argument("--copies", type=int, default=20, help="bundled corpus copies to tokenize")
    ap.add_argument("--skip-floor", action="store_true")
    ap.add_argument("--skip-tokenize", action="store_true")
    args = ap.parse_args()
    repo = args.repo.resolve()
    env = {**os.environ, "PYTHONPATH": str(repo)}
    py = [sys.executable]
    print(f"tinylm from {repo} (commit {_commit(repo)}), python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="tinylm-mem-") as tmp:
        work = Path(tmp)
        if not args.skip_floor:
            for name, code in FLOORS.items():
                show(name, measure([*py, "-c", code], env, work))
        budget = ["--time", args.time] if args.time else []
        cmd = [*py, "-m", "tinylm", "train", *budget, "--out", "run", "-q"]
        show(f"tinylm train {' '.join(budget) or '(default)'}", measure(cmd, env, work))
        figures = eval_figures(work / "run")
        print(
            f"  {figures['steps']} steps, {figures['evals']} evals at {figures['eval_at_s']} s, "
            f"{figures['eval_share']:.1%} of the wall clock evaluating, "
            f"final val {figures['final_val']:.4f}"
        )
        if not args.skip_tokenize:
            tok = [*py, "-m", "tinylm", "tokenize", "--out"]
            show("tinylm tokenize (bundled, 1 MB)", measure([*tok, "tok1"], env, work))
            big = work / "big.txt"
            synth_corpus(big, args.copies, _bundled(env, work))
            label = f"tinylm tokenize ({big.stat().st_size / MB:.0f} MB)"
            show(label, measure([*tok, "tokbig", str(big)], env, work))


def _bundled(env: dict[str, str], cwd: Path) -> Path:
    """Where the measured tinylm keeps its bundled corpus."""
    code = "from tinylm.data.corpus import bundled_corpus; print(bundled_corpus())"
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True)
    return Path(out.stdout.decode().strip())


def _commit(repo: Path) -> str:
    git = ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"]
    out = subprocess.run(git, text=True, capture_output=True)
    return out.stdout.strip() or "?"


if __name__ == "__main__":
    main()
