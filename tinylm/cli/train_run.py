"""The body of `tinylm train` (CLI layer): resolve options, set up the run, train, render."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
import torch.distributed as dist

from tinylm.cli.render import TrainReporter, stderr_console, train_summary
from tinylm.data.corpus import bundled_corpus
from tinylm.data.prepare import TokenizeOptions
from tinylm.data.tokenizer import file_sha256
from tinylm.data.tokens import is_token_dir, load_token_dir
from tinylm.device import pick_device, pick_runtime
from tinylm.errors import TinylmError, UsageError
from tinylm.model import Transformer
from tinylm.train.config import BATCH_SIZES, DEFAULT_TIME, MaskingConfig, TrainConfig
from tinylm.train.setup import (
    build_model_config,
    check_fits,
    default_out,
    init_weights,
    load_data,
    load_resume,
    parse_duration,
    prepare_out,
    write_run_info,
)
from tinylm.train.trainer import Trainer

SHAPE_OPTIONS = ("n_layer", "n_head", "d_model", "block_size", "dropout")


def _masking(opts: dict) -> MaskingConfig:
    try:
        shares = [float(x) for x in opts["mask_replace"].split(",")]
        if len(shares) != 3 or abs(sum(shares) - 1.0) > 1e-6:
            raise ValueError
    except ValueError:
        raise UsageError(
            f"--mask-replace {opts['mask_replace']!r} must be three shares that sum to 1, "
            "e.g. 0.8,0.1,0.1."
        ) from None
    try:
        return MaskingConfig(rate=opts["mask_rate"], p_mask=shares[0], p_random=shares[1])
    except ValueError as e:
        raise UsageError(f"--mask-rate: {e}.") from e


def _budget(opts: dict, default_time: bool) -> dict:
    budget = {
        "time_limit": parse_duration(opts["time_"]) if opts["time_"] else None,
        "max_steps": opts["max_steps"],
        "max_tokens": opts["max_tokens"],
    }
    for name in ("max_steps", "max_tokens"):
        if budget[name] is not None and budget[name] < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1.")
    if default_time and all(v is None for v in budget.values()):
        budget["time_limit"] = DEFAULT_TIME
    return budget


def _train_config(opts: dict, budget: dict) -> TrainConfig:
    try:
        return TrainConfig(
            batch_size=BATCH_SIZES[opts["size"]]
            if opts["batch_size"] is None
            else opts["batch_size"],
            grad_accum=opts["grad_accum"],
            optimizer=opts["optimizer"],
            lr=opts["lr"],
            muon_lr=opts["muon_lr"],
            weight_decay=opts["weight_decay"],
            warmup=opts["warmup"],
            eval_every=opts["eval_every"],
            save_every=opts["save_every"],
            seed=opts["seed"],
            masking=_masking(opts),
            **budget,
        )
    except ValueError as e:
        raise UsageError(f"impossible training option: {e}.") from e


def _share_path(path: Path | None, world: int) -> Path | None:
    """Rank 0's choice of run directory, given to every rank."""
    if world == 1:
        return path
    box = [str(path) if path is not None else None]
    dist.broadcast_object_list(box, src=0)
    return Path(box[0]) if box[0] is not None else None


def run_training(data: str | None, opts: dict, stop, dist_env: tuple[int, int, int]) -> None:
    """Everything `tinylm train` does after option parsing."""
    rank, world, local_rank = dist_env
    console = stderr_console()
    quiet = opts["quiet"] or rank != 0
    if opts["resume"] and opts["init_from"]:
        raise UsageError("--resume and --init-from do not mix: resume continues a run exactly.")
    given_shape = [n for n in SHAPE_OPTIONS if opts[n] is not None]
    if opts["resume"] and given_shape:
        raise UsageError(
            f"--resume continues the saved architecture; drop --{given_shape[0].replace('_', '-')}."
        )

    device, why = pick_device(opts["device"])
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", local_rank)
    runtime = pick_runtime(device, opts["precision"], opts["compile"])
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if world > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        _run(data, opts, stop, rank, world, runtime, why, console, quiet)
    finally:
        if world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def _run(data, opts, stop, rank, world, runtime, why, console, quiet) -> None:  # noqa: ANN001
    budget = _budget(opts, default_time=not opts["resume"])
    resumed = None
    if opts["resume"]:
        out = Path(opts["resume"])
        resumed = load_resume(out, budget)
        token_data = load_token_dir(resumed.data_dir)
        if file_sha256(token_data.tokenizer_path) != file_sha256(out / "last" / "tokenizer.json"):
            raise TinylmError(
                f"--resume {out}: the data at {resumed.data_dir} now has another tokenizer "
                "than the checkpoint; the run cannot continue on it."
            )
        model, cfg = resumed.model, resumed.train_config
    else:
        out = None
        if rank == 0:
            out = opts["out"] or default_out(opts["objective"])
            prepare_out(out, opts["force"])
        out = _share_path(out, world)
        try:
            token_data, model, cfg = _new_run(data, opts, budget, out, rank, world)
        except BaseException:
            if rank == 0:  # a run that never started leaves no directory behind
                shutil.rmtree(out, ignore_errors=True)
            raise
    check_fits(model.config, token_data)
    if rank == 0 and not resumed:
        write_run_info(
            out,
            {
                "data": str(token_data.root.resolve()),
                "model": model.config.to_dict(),
                "train": cfg.to_dict(),
                "device": str(runtime.device),
                "precision": runtime.precision,
                "compile": runtime.compile,
                "world_size": world,
                "init_from": str(opts["init_from"]) if opts["init_from"] else None,
            },
        )
    torch.manual_seed(cfg.seed)
    trainer = Trainer(model, cfg, token_data, runtime, out, lambda e: None, stop, rank, world)
    if resumed is not None:
        trainer.load_state(resumed.state, resumed.optimizer)
    if not quiet:
        _banner(console, model, cfg, token_data, runtime, why, out, world, resumed is not None)
    if rank == 0:
        stop.install()
    with TrainReporter(console, quiet) as reporter:
        trainer.report = reporter
        result = trainer.run()
    if quiet:
        return
    metrics = _last_eval(out)
    train_summary(console, result, metrics, str(out), model.config.objective)
    if result["reason"] == "stopped":
        console.print(f"Stopped early; continue with: tinylm train --resume {out}")
    if opts["sample"]:
        _show_sample(console, trainer, token_data)


def _new_run(data, opts: dict, budget: dict, out: Path, rank: int, world: int):  # noqa: ANN001, ANN202
    """Data, model and training config of a new run."""
    tok_opts = TokenizeOptions(kind=opts["kind"], vocab_size=opts["vocab_size"])
    if rank == 0:
        token_data = load_data(data, out, tok_opts, default_corpus=_default_corpus(data))
    if world > 1:
        dist.barrier()
    if rank != 0:  # rank 0 prepared the data; the others only open it
        given = Path(data) if data is not None else None
        token_data = load_token_dir(given if given and is_token_dir(given) else out / "data")
    overrides = {n: opts[n] for n in SHAPE_OPTIONS}
    mcfg = build_model_config(token_data.vocab_size, opts["objective"], opts["size"], overrides)
    cfg = _train_config(opts, budget)
    torch.manual_seed(cfg.seed)
    model = Transformer(mcfg)
    if opts["init_from"]:
        init_weights(model, Path(opts["init_from"]), token_data)
    check_fits(model.config, token_data)
    return token_data, model, cfg


def _default_corpus(data: str | None) -> Path | None:
    return bundled_corpus() if data is None else None


def _last_eval(out: Path) -> dict:
    last = {}
    with open(out / "metrics.jsonl", encoding="utf-8") as f:
        for line in f:
            event = json.loads(line)
            if event["event"] == "eval":
                last = event
    return last


def _banner(console, model, cfg, data, runtime, why, out, world, resumed) -> None:  # noqa: ANN001
    m = model.config
    n = model.num_params()
    budget = ", ".join(
        f"{k} {v}"
        for k, v in (
            ("time", f"{cfg.time_limit:g}s" if cfg.time_limit else None),
            ("steps", cfg.max_steps),
            ("tokens", cfg.max_tokens),
        )
        if v
    )
    per_step = cfg.batch_size * m.block_size * cfg.grad_accum * world
    opt = (
        f"muon (lr {cfg.muon_lr:g}) + adamw (lr {cfg.lr:g})"
        if cfg.optimizer == "muon"
        else f"adamw (lr {cfg.lr:g})"
    )
    console.print(
        f"[bold]tinylm train[/]{' (resumed)' if resumed else ''}: {m.objective} model, "
        f"{n / 1e6:.2f} M parameters ({m.n_layer} layers, {m.n_head} heads, width {m.d_model}, "
        f"context {m.block_size})\n"
        f"device {runtime.describe()} ({why}), precision {runtime.precision}, "
        f"compile {'on' if runtime.compile else 'off'}, {torch.get_num_threads()} CPU threads"
        f"{f', {world} processes' if world > 1 else ''}\n"
        f"data {data.root}: {len(data.train):,} train / {len(data.val):,} val tokens, "
        f"{data.meta['tokenizer']['kind']} vocab {data.vocab_size:,}\n"
        f"{per_step:,} tokens/step (batch {cfg.batch_size}), optimizer {opt}; budget {budget}\n"
        f"run directory {out}",
        soft_wrap=True,
    )


def _show_sample(console, trainer: Trainer, data) -> None:  # noqa: ANN001
    from tokenizers import Tokenizer

    from tinylm.data.vocab import MASK_ID
    from tinylm.infer.config import SamplingConfig
    from tinylm.infer.sampling import fill_masks, generate
    from tinylm.metrics import fixed_masks

    tok = Tokenizer.from_file(str(data.tokenizer_path))
    model = trainer.model.eval()
    if model.config.causal:
        g = torch.Generator().manual_seed(trainer.cfg.seed)
        ids = list(generate(model, [], SamplingConfig(max_new_tokens=120, top_k=40), g))
        console.rule("sample (temperature 0.8, top-k 40)")
        console.print(tok.decode(ids), markup=False)
        return
    window = trainer.val[0][: model.config.block_size]
    masked, _ = fixed_masks(window[None], rate=0.15)
    ids = masked[0].tolist()
    filled = fill_masks(model, ids)
    shown = [
        f"[{tok.decode([f])}]" if i == MASK_ID else tok.decode([t])
        for i, t, f in zip(ids, window.tolist(), filled, strict=True)
    ]
    console.rule("a val passage with 15 % of tokens hidden, filled in \\[like this]")
    joined = (
        "".join(shown)
        if data.meta["tokenizer"]["kind"] in ("char", "byte", "bpe")
        else " ".join(shown)
    )
    console.print(joined, markup=False)
