"""The CUDA path, end to end: train each size preset with bf16 autocast and torch.compile, then
generate, fill masks and diffusion-generate, with tokens/s next to the same model in fp32 eager.

    python bench/gpu_check.py                          # tiny, small, base on cuda, 300 steps
    python bench/gpu_check.py --sizes base --steps 500
    python bench/gpu_check.py --dry-run                # on the CPU, tiny budgets: a smoke run

For each preset it trains a causal model (for `generate`) and a diffusion model (for fill-mask and
iterative unmasking) on the bundled corpus (BPE 2048, as `tinylm train` does), through tinylm's
own Trainer, runtime and inference functions:
  train  = tokens per second of optimizer steps after the first 20% (compilation excluded), with
           `pick_runtime(device, "bf16", compile=True)` and with `pick_runtime(device, "fp32",
           compile=False)` from the same initial weights;
  sample = the bf16-trained model sampled under bf16 autocast with a compiled forward, and in fp32
           eager (what `tinylm generate` does): new tokens per second for generate (KV cache) and
           unmask_generate, masked tokens per second for fill_masks on val windows at 15 % masks.
A step that fails prints its error and the check goes on: on real hardware that is the finding.
Without CUDA it exits with one line (exit 1) unless --dry-run or --device cpu is given.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch

from tinylm.data.corpus import bundled_corpus
from tinylm.data.options import TokenizeOptions
from tinylm.data.prepare import tokenize_corpus
from tinylm.data.tokens import TokenData, load_token_dir
from tinylm.data.vocab import MASK_ID
from tinylm.device import Runtime, pick_device, pick_runtime
from tinylm.errors import UsageError
from tinylm.infer.config import PREVIEW, UnmaskConfig
from tinylm.infer.sampling import fill_masks, generate
from tinylm.infer.unmask import unmask_generate
from tinylm.metrics import fixed_masks
from tinylm.model import Transformer
from tinylm.train.config import BATCH_SIZES, SIZES, TrainConfig
from tinylm.train.setup import build_model_config
from tinylm.train.trainer import Trainer

SEED = 1337
DRY_CORPUS_BYTES = 300_000  # the dry run tokenizes a slice of the bundled corpus, by characters


def sync(device: torch.device) -> None:
    """Wait for the GPU, so a timer sees the work done."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def tokenized(work: Path, dry: bool) -> TokenData:
    """The bundled corpus as `tinylm train` tokenizes it (a char-level slice for a dry run)."""
    if dry:
        text = bundled_corpus().read_text(encoding="utf-8")[:DRY_CORPUS_BYTES]
        src = work / "slice.txt"
        src.write_text(text, encoding="utf-8")
        tokenize_corpus([str(src)], work / "tok", TokenizeOptions(kind="char"))
    else:
        tokenize_corpus([str(bundled_corpus())], work / "tok", TokenizeOptions())
    return load_token_dir(work / "tok")


def train(
    data: TokenData, size: str, objective: str, runtime: Runtime, steps: int, out: Path
) -> tuple[Transformer, float]:
    """A fresh model of the preset trained for `steps`; (model, training tokens/s after warm-up)."""
    torch.manual_seed(SEED)
    model = Transformer(build_model_config(data.vocab_size, objective, size, {}))
    cfg = TrainConfig(
        batch_size=BATCH_SIZES[size], max_steps=steps, eval_every=steps, eval_seconds=0.0,
        log_every=1, seed=SEED,
    )  # fmt: skip
    events: list[dict] = []
    out.mkdir(parents=True)
    trainer = Trainer(model, cfg, data, runtime, out, events.append)
    trainer.run()
    timed = [e for e in events if e["event"] == "step" and e["step"] > steps // 5]
    tokens = timed[-1]["tokens"] - timed[0]["tokens"]
    seconds = timed[-1]["elapsed"] - timed[0]["elapsed"]
    return trainer.model, tokens / seconds if seconds > 0 else float("nan")


def timed(run: Callable[[], int], device: torch.device) -> float:
    """Units per second of `run` (which returns how many units it made), after one warm-up."""
    run()  # compilation, caches
    sync(device)
    t0 = time.perf_counter()
    n = run()
    sync(device)
    return n / (time.perf_counter() - t0)


def sampling_speeds(model: Transformer, data: TokenData, runtime: Runtime, new: int) -> dict:
    """tokens/s of generate (causal) or fill_masks and unmask_generate (diffusion)."""
    net = torch.compile(model) if runtime.compile else model
    cfg = replace(PREVIEW, max_new_tokens=new, stop_at_eos=False)
    g = torch.Generator().manual_seed(SEED)
    out: dict[str, float] = {}
    with runtime.autocast():
        if model.config.causal:
            out["generate"] = timed(lambda: len(list(generate(net, [], cfg, g))), runtime.device)
            return out
        block = model.config.block_size
        windows = torch.from_numpy(data.val[: 8 * block].astype("int64").reshape(8, block))
        masked, _ = fixed_masks(windows, rate=0.15)
        rows = masked.tolist()

        def fill() -> int:
            for row in rows:
                fill_masks(net, row)
            return int((masked == MASK_ID).sum())

        out["fill-mask"] = timed(fill, runtime.device)
        unmask = UnmaskConfig()
        out["unmask"] = timed(
            lambda: len(list(unmask_generate(net, [], cfg, unmask, g, allow_eos=False))),
            runtime.device,
        )
    return out


def attempt(label: str, run: Callable[..., object], *args: object) -> object | None:
    """run(*args), or None after printing why it failed: the check goes on to the next step."""
    try:
        return run(*args)
    except Exception as e:  # noqa: BLE001 - any failure on real hardware is the finding
        print(f"  {label}: FAILED: {type(e).__name__}: {str(e).splitlines()[0][:300]}", flush=True)
        return None


def show(size: str, objective: str, what: str, fast: float | None, eager: float | None) -> None:
    """One row: the bf16 rate, the fp32 eager rate, their ratio."""

    def rate(x: float | None) -> str:
        return "failed" if x is None else f"{x:,.0f} tok/s"

    ratio = f"{fast / eager:.2f}x" if fast and eager else "-"
    print(f"{size:5s} {objective:9s} {what:10s} {rate(fast):>16s} {rate(eager):>16s} {ratio:>7s}")


def check(size: str, objective: str, data: TokenData, runtimes: dict, args, work: Path) -> None:  # noqa: ANN001
    """Train one preset and objective both ways; sample the bf16-trained model both ways."""
    label = f"{size} {objective}"
    runs = {
        name: attempt(f"{label} train ({name})", train, data, size, objective, rt, args.steps,
                      work / f"{size}-{objective}-{name}")
        for name, rt in runtimes.items()
    }  # fmt: skip
    show(size, objective, "train", *(r and r[1] for r in runs.values()))
    if runs["fast"] is None:
        return
    model = runs["fast"][0]
    speeds = {
        name: attempt(f"{label} sampling ({name})", sampling_speeds, model, data, rt,
                      args.new_tokens) or {}
        for name, rt in runtimes.items()
    }  # fmt: skip
    for what in ("generate",) if model.config.causal else ("fill-mask", "unmask"):
        show(size, objective, what, speeds["fast"].get(what), speeds["eager"].get(what))


def main() -> None:
    """Options, the device check, the data, then each preset."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES))
    ap.add_argument("--steps", type=int, default=300, help="optimizer steps per training run")
    ap.add_argument("--new-tokens", type=int, default=256, help="tokens per generation")
    ap.add_argument("--device", default="cuda", help="cuda, cuda:N, or cpu for a smoke run")
    ap.add_argument("--no-compile", action="store_true", help="bf16 autocast only")
    ap.add_argument(
        "--dry-run",
        action="store_true",
        help="on the CPU, 3 steps, 8 tokens, no compile: checks the script, not speed",
    )
    args = ap.parse_args()
    if args.dry_run:
        args.device, args.steps, args.new_tokens, args.no_compile = "cpu", 3, 8, True
    try:
        device, _ = pick_device(args.device)
    except UsageError as e:
        raise SystemExit(
            f"gpu_check: {str(e).rstrip('.')}; --dry-run checks the script on the CPU."
        ) from None
    runtimes = {
        "fast": pick_runtime(device, "bf16", compile=not args.no_compile),
        "eager": pick_runtime(device, "fp32", compile=False),
    }
    fast = f"bf16{'' if args.no_compile else '+compile'}"
    print(f"gpu_check: {runtimes['fast'].describe()}, torch {torch.__version__}, "
          f"{args.steps} steps a run, {args.new_tokens} new tokens a sample"
          f"{' (dry run: speeds mean nothing)' if args.dry_run else ''}", flush=True)  # fmt: skip
    print(
        f"{'size':5s} {'objective':9s} {'what':10s} {fast:>16s} {'fp32 eager':>16s} {'ratio':>7s}"
    )
    with tempfile.TemporaryDirectory(prefix="tinylm-gpu-") as tmp:
        data = tokenized(Path(tmp), args.dry_run)
        for size in args.sizes:
            for objective in ("causal", "diffusion"):
                check(size, objective, data, runtimes, args, Path(tmp))


if __name__ == "__main__":
    main()
