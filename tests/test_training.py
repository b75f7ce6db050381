"""Training end to end: exact reload, exact resume, and the CLI for both objectives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import TINY_TRAIN, run_cli, train_tiny
from safetensors.torch import load_file

from tinylm.checkpoint import load_checkpoint, load_trainer_state, save_checkpoint
from tinylm.data.tokens import load_token_dir
from tinylm.device import pick_runtime
from tinylm.errors import UsageError
from tinylm.model import ModelConfig, Transformer
from tinylm.train.config import (
    BATCH_SIZES,
    BIDIRECTIONAL_BATCH_SIZES,
    DEFAULT_SIZE,
    SIZES,
    MaskingConfig,
    TrainConfig,
    default_batch_size,
)
from tinylm.train.setup import check_fits
from tinylm.train.trainer import Trainer


def _trainer(token_dir: Path, out: Path, objective: str, stop_at: int | None = None, **kw):
    data = load_token_dir(token_dir)
    torch.manual_seed(0)
    model = Transformer(
        ModelConfig(
            vocab_size=data.vocab_size,
            block_size=16,
            n_layer=2,
            n_head=2,
            d_model=16,
            objective=objective,
            dropout=0.1,
        )
    )
    cfg = TrainConfig(batch_size=4, max_steps=8, eval_every=3, log_every=1, warmup=2, **kw)
    out.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(
        model,
        cfg,
        data,
        pick_runtime(torch.device("cpu")),
        out,
        lambda e: None,
        should_stop=lambda: stop_at is not None and trainer.progress.step >= stop_at,
    )
    return trainer


def _resume_last(token_dir: Path, out: Path, objective: str, **kw):  # noqa: ANN202
    """A trainer set up as `_trainer(..., **kw)`, loaded from out/last and run to its end."""
    state, optim = load_trainer_state(out / "last")
    again = _trainer(token_dir, out, objective, **kw)
    again.model.load_state_dict(load_checkpoint(out / "last").model.state_dict())
    again.load_state(state, optim)
    again.run()
    return again


def _losses(out: Path) -> dict[int, float]:
    events = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return {e["step"]: e["loss"] for e in events if e["event"] == "step"}


def test_save_load_reproduces_logits_exactly(tmp_path: Path, token_dir: Path) -> None:
    model = Transformer(
        ModelConfig(
            vocab_size=60,
            block_size=16,
            n_layer=2,
            n_head=2,
            d_model=16,
            dropout=0.0,
            objective="masked",
        )
    )
    save_checkpoint(tmp_path / "ckpt", model, token_dir / "tokenizer.json")
    loaded = load_checkpoint(tmp_path / "ckpt")
    assert loaded.config == model.config
    idx = torch.randint(0, 60, (2, 16))
    with torch.no_grad():
        assert torch.equal(model.eval()(idx), loaded.model.eval()(idx))
    keys = load_file(tmp_path / "ckpt" / "model.safetensors").keys()
    assert not any(k.startswith(("_orig_mod.", "module.")) for k in keys)


@pytest.mark.parametrize("objective", ["causal", "masked", "diffusion"])
def test_resume_equals_uninterrupted(tmp_path: Path, token_dir: Path, objective: str) -> None:
    whole = _trainer(token_dir, tmp_path / "whole", objective)
    assert whole.run()["step"] == 8
    cut = _trainer(token_dir, tmp_path / "cut", objective, stop_at=5)
    result = cut.run()
    assert result["reason"] == "stopped" and result["step"] == 5
    state, optim = load_trainer_state(tmp_path / "cut" / "last")
    assert state["step"] == 5
    again = _trainer(token_dir, tmp_path / "cut", objective)
    again.model.load_state_dict(load_checkpoint(tmp_path / "cut" / "last").model.state_dict())
    again.load_state(state, optim)
    assert again.run()["step"] == 8
    want, got = _losses(tmp_path / "whole"), _losses(tmp_path / "cut")
    assert sorted(got) == list(range(1, 9))
    assert got == want  # the same losses, step for step, bit for bit


@pytest.mark.parametrize("objective", ["causal", "masked", "diffusion"])
def test_cli_end_to_end(tmp_path: Path, token_dir: Path, objective: str) -> None:
    out = tmp_path / "run"
    r = run_cli(
        "train",
        str(token_dir),
        "--objective",
        objective,
        "--max-steps",
        "4",
        "--out",
        str(out),
        *TINY_TRAIN[:-1],
    )
    assert r.exit_code == 0, r.output
    assert r.stdout == ""
    assert "tinylm train" in r.stderr and "device cpu" in r.stderr
    assert ("val perplexity" if objective == "causal" else "val top-1 accuracy") in r.stderr
    assert "sample" in r.stderr or "filled in" in r.stderr
    for ckpt in ("best", "last"):
        files = {p.name for p in (out / ckpt).iterdir()}
        assert {"config.json", "model.safetensors", "tokenizer.json", "trainer_state.json"} <= files
    assert (out / "last" / "optimizer.pt").is_file()
    cfg = json.loads((out / "last" / "config.json").read_text())
    assert cfg["model"]["objective"] == objective and cfg["format_version"] == 1
    evals = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [e["step"] for e in evals if e["event"] == "eval"] == [2, 4]
    key = "val_bpb" if objective == "causal" else "val_acc"
    assert all(key in e for e in evals if e["event"] == "eval")
    state = json.loads((out / "last" / "trainer_state.json").read_text())
    # a causal run's first step of four (its batch warm-up, 20 %) takes one window, not four
    windows = 1 + 3 * 4 if objective == "causal" else 4 * 4
    assert state["step"] == 4 and state["tokens"] == windows * 16
    # the resumed run continues the step count and appends to the same metrics
    r = run_cli("train", "--resume", str(out), "--max-steps", "6", "-q")
    assert r.exit_code == 0, r.output
    assert json.loads((out / "last" / "trainer_state.json").read_text())["step"] == 6


def test_cli_raw_text_is_tokenized_into_the_run(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("a few lines of text to learn from\n" * 80)
    out = tmp_path / "run"
    r = run_cli(
        "train", str(text), "--kind", "char", "--max-steps", "2", "--out", str(out), *TINY_TRAIN
    )
    assert r.exit_code == 0, r.output
    meta = json.loads((out / "data" / "meta.json").read_text())
    assert meta["tokenizer"]["kind"] == "char"
    assert json.loads((out / "run.json").read_text())["data"] == str((out / "data").resolve())


def test_init_from_copies_weights(tmp_path: Path, token_dir: Path) -> None:
    first = tmp_path / "first"
    train_tiny(token_dir, first, 2)
    second = tmp_path / "second"
    r = run_cli(
        "train",
        str(token_dir),
        "--max-steps",
        "1",
        "--out",
        str(second),
        "--init-from",
        str(first),
        "--lr",
        "1e-9",
        "--muon-lr",
        "1e-9",
        *TINY_TRAIN,
    )
    assert r.exit_code == 0, r.output
    a = load_checkpoint(first / "best").model.tok_emb.weight
    b = load_checkpoint(second / "last").model.tok_emb.weight
    torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def test_data_must_fit_every_process_share(token_dir: Path) -> None:
    data = load_token_dir(token_dir)
    block = len(data.val) - 1  # one val window exactly
    cfg = ModelConfig(
        vocab_size=data.vocab_size,
        block_size=block,
        n_layer=1,
        n_head=2,
        d_model=16,
        dropout=0.0,
        objective="causal",
    )
    check_fits(cfg, data)
    world = len(data.train) // len(data.val) + 1  # each share of the train split is too short
    with pytest.raises(UsageError, match="per process"):
        check_fits(cfg, data, world)
    with pytest.raises(UsageError, match="per process"):  # the Trainer runs the same check
        Trainer(Transformer(cfg), TrainConfig(max_steps=1), data, None, Path(), print, world=world)


def test_help_shows_the_defaults_the_configs_own() -> None:
    r = run_cli("train", "--help")
    assert r.exit_code == 0, r.output
    text = " ".join(r.stdout.split())
    cfg, masking = TrainConfig(max_steps=1), MaskingConfig()
    for option, value in [
        ("--lr", cfg.lr), ("--muon-lr", cfg.muon_lr), ("--warmup", cfg.warmup),
        ("--eval-every", cfg.eval_every), ("--eval-seconds", cfg.eval_seconds),
        ("--seed", cfg.seed), ("--mask-rate", masking.rate),
        ("--grad-accum", cfg.grad_accum), ("--optimizer", cfg.optimizer),
    ]:  # fmt: skip
        after = text.split(f" {option} ", 1)[1]
        assert f"[default: {value}" in after.split(" --", 1)[0], option
    assert f"[default: {DEFAULT_SIZE}]" in text and f"context {SIZES['base']['block_size']}" in text
    assert f"default: {BATCH_SIZES['tiny']} tiny" in text and "[default: 0.8,0.1,0.1]" in text
    assert f"masked and diffusion: {BIDIRECTIONAL_BATCH_SIZES['tiny']} tiny)" in text


@pytest.mark.parametrize("objective", ["causal", "masked", "diffusion"])
def test_the_default_batch_is_the_objectives(
    tmp_path: Path, token_dir: Path, objective: str
) -> None:
    out = tmp_path / "run"
    args = ["--n-layer", "1", "--d-model", "16", "--n-head", "2", "--block-size", "8",
            "--no-sample", "--max-steps", "1", "--out", str(out), "--force"]  # fmt: skip

    def recipe(*given: str) -> tuple[int, float]:
        r = run_cli("train", str(token_dir), "--objective", objective, *args, *given)
        assert r.exit_code == 0, r.output
        train = json.loads((out / "run.json").read_text())["train"]
        rate = train["masking"]["rate"]
        assert (f"{objective} model ({rate:.0%} hidden)," in r.stderr) == (objective == "masked")
        assert f"(batch {train['batch_size']}" in r.stderr  # the banner says what was chosen
        return train["batch_size"], rate

    own = BATCH_SIZES if objective == "causal" else BIDIRECTIONAL_BATCH_SIZES
    assert recipe() == (own[DEFAULT_SIZE], MaskingConfig.rate) == recipe("--time", "10m")
    assert own[DEFAULT_SIZE] == default_batch_size(DEFAULT_SIZE, objective)
    assert own[DEFAULT_SIZE] == (64 if objective == "causal" else 32)
    assert recipe("--batch-size", "3", "--mask-rate", "0.2") == (3, 0.2)
