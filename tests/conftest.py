"""Shared helpers: a CliRunner that keeps stderr apart, and a small corpus on disk."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from tinylm.cli import cli
from tinylm.model import ModelConfig, Transformer

SAMPLE = (
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\n"
    "All:\nSpeak, speak.\n\nFirst Citizen:\nYou are all resolved rather to die than to famish?\n"
) * 20


def tiny_model(vocab_size: int, block_size: int, objective: str = "masked") -> Transformer:
    """A seeded, untrained two-layer model in eval mode, for tests of what is built on a model."""
    torch.manual_seed(0)
    cfg = ModelConfig(
        vocab_size=vocab_size,
        block_size=block_size,
        n_layer=2,
        n_head=2,
        d_model=32,
        dropout=0.0,
        objective=objective,
    )
    return Transformer(cfg).eval()


def run_cli(*args: str, input: bytes | str | None = None):
    """Invoke the CLI in-process; stdout and stderr stay separate."""
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=True)


def read_tokens(out: Path, split: str) -> np.ndarray:
    """The token ids of one split, as the trainer will read them."""
    meta = json.loads((out / "meta.json").read_text())
    return np.memmap(out / f"{split}.bin", dtype=meta["dtype"], mode="r")


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A small plain-text corpus file."""
    p = tmp_path / "corpus.txt"
    p.write_text(SAMPLE, encoding="utf-8")
    return p


TINY_TRAIN = (
    "--n-layer",
    "1",
    "--n-head",
    "2",
    "--d-model",
    "16",
    "--block-size",
    "16",
    "--batch-size",
    "4",
    "--eval-every",
    "2",
    "--no-sample",
)


@pytest.fixture(scope="session")
def token_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A char-level token directory of a small corpus, made once per test session."""
    root = tmp_path_factory.mktemp("tok")
    src = root / "corpus.txt"
    src.write_text(SAMPLE * 3, encoding="utf-8")
    out = root / "tok"
    r = run_cli("tokenize", str(src), "-o", str(out), "--kind", "char", "-q")
    assert r.exit_code == 0, r.output
    return out


def train_tiny(token_dir: Path, out: Path, steps: int = 2, *extra: str) -> Path:
    """Train the tiny test model for a few steps into `out`; fail the test if that fails."""
    r = run_cli(
        "train", str(token_dir), "--max-steps", str(steps), "--out", str(out), *TINY_TRAIN, *extra
    )
    assert r.exit_code == 0, r.output
    return out


def train_option(token_dir: Path, out: Path, flag: str, bad: str, good: str, steps: int):  # noqa: ANN201
    """A training option's out-of-range value is refused (exit 2, naming it); a good one trains
    `steps` steps into `out` and is recorded in run.json. The good run's result."""
    refused = run_cli("train", str(token_dir), flag, bad, *TINY_TRAIN)
    assert refused.exit_code == 2 and flag in refused.output
    args = ("--max-steps", str(steps), "--out", str(out), flag, good, *TINY_TRAIN)
    ok = run_cli("train", str(token_dir), *args)
    assert ok.exit_code == 0, ok.output
    field = flag.removeprefix("--").replace("-", "_")
    assert f'"{field}": {good}' in (out / "run.json").read_text()
    return ok


@pytest.fixture(scope="session")
def runs(token_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny causal, masked and diffusion runs of the same size and budget, made once a session.

    Tests only read them."""
    root = tmp_path_factory.mktemp("runs")
    return {
        # no batch warm-up: the same tokens as the others, so compare has nothing to warn of
        "causal": train_tiny(token_dir, root / "causal", 3, "--batch-warmup", "0"),
        "masked": train_tiny(token_dir, root / "masked", 3, "--objective", "masked"),
        "diffusion": train_tiny(token_dir, root / "diffusion", 3, "--objective", "diffusion"),
    }
