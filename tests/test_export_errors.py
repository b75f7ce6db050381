"""tinylm export refusing what it cannot do (one line, the right exit code, nothing left behind),
and checkpoints from before the exact final LayerNorm: exported with a warning when the measured
difference is small, refused otherwise."""

from __future__ import annotations

import errno
import json
import os
import shutil

os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers reads it: these tests never download

from pathlib import Path

import pytest
import torch
import transformers
from conftest import run_cli
from test_exit_codes import assert_one_line
from transformers import AutoModelForMaskedLM

from tinylm.checkpoint import load_checkpoint, save_checkpoint
from tinylm.export.fidelity import MAX_APPROX_ERROR
from tinylm.model import NORM_EPS, ModelConfig, Transformer

transformers.logging.set_verbosity_error()


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_an_existing_out_needs_force(runs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    r = run_cli("export", str(runs["causal"]), "-o", str(out))
    assert_one_line(r, 2, "use --force")
    assert _tree(out) == {"mine.txt": b"keep me"}
    r = run_cli("export", str(runs["causal"]), "-o", str(out), "--force")
    assert r.exit_code == 0, r.output
    assert "mine.txt" not in _tree(out) and "model.safetensors" in _tree(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporaries


CASES = {  # case: (extra options, exit code, what the line says)
    "not a run": ((), 1, "neither a checkpoint"),
    "no last/": (("--checkpoint", "last"), 1, "no last/"),
    "--out is the checkpoint": (("--force",), 2, "the input"),
    "--out is the run": (("--force",), 2, "the input"),
}


@pytest.mark.parametrize("case", CASES)
def test_refused_with_one_line_and_nothing_written(
    runs: dict[str, Path], tmp_path: Path, case: str
) -> None:
    run, out = tmp_path / "run", tmp_path / "out"
    if case == "not a run":
        run.mkdir()
    else:
        shutil.copytree(runs["causal"], run)  # the session's runs are only read
    if case == "no last/":
        shutil.rmtree(run / "last")
    out = {"--out is the checkpoint": run / "best", "--out is the run": run}.get(case, out)
    extra, code, needle = CASES[case]
    before = _tree(run)
    assert_one_line(run_cli("export", str(run), "-o", str(out), *extra), code, needle)
    assert _tree(run) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_failed_write_leaves_nothing(
    runs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk that fills up while the files are written: one line, no directory, no temporary."""

    def full(*_args: object) -> str:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("tinylm.export.directory.model_card", full)
    r = run_cli("export", str(runs["masked"]), "-o", str(tmp_path / "out"))
    assert_one_line(r, 1, "No space left on device")
    assert list(tmp_path.iterdir()) == []


def _old_checkpoint(root: Path, runs: dict[str, Path], scale: float) -> Path:
    """A masked checkpoint whose final norm has the epsilon of every checkpoint before the exact
    one (NORM_EPS); `scale` sets the residual's size, which sets what that epsilon changes."""
    torch.manual_seed(0)
    cfg = ModelConfig(38, 16, 2, 2, 32, 0.0, "masked", final_norm_eps=NORM_EPS)
    model = Transformer(cfg).eval()
    with torch.no_grad():
        model.tok_emb.weight.mul_(scale)
    save_checkpoint(root, model, runs["masked"] / "best" / "tokenizer.json")
    config = json.loads((root / "config.json").read_text())
    del config["model"]["final_norm_eps"]  # written as tinylm wrote it then
    (root / "config.json").write_text(json.dumps(config))
    return root


def test_an_old_checkpoint_exports_with_a_warning(runs: dict[str, Path], tmp_path: Path) -> None:
    ckpt = _old_checkpoint(tmp_path / "old", runs, scale=200.0)
    r = run_cli("export", str(ckpt), "-o", str(tmp_path / "out"))
    assert r.exit_code == 0, r.output
    assert r.stderr.startswith("Warning: this checkpoint predates the exact final LayerNorm")
    assert "max |Δ logits|" in r.stdout
    model = load_checkpoint(ckpt).model.eval()
    assert model.config.norm_f_eps == NORM_EPS
    hf = AutoModelForMaskedLM.from_pretrained(tmp_path / "out").eval()
    ids = torch.randint(0, 38, (2, 16), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        gap = float((model(ids) - hf(ids).logits).abs().max())
    assert 1e-6 < gap < MAX_APPROX_ERROR  # not exact, within the promise
    assert "predates tinylm's exact final LayerNorm" in (tmp_path / "out" / "README.md").read_text()


def test_an_old_checkpoint_too_far_from_exact_is_refused(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    """A small residual (the tiny runs' own size) makes the old epsilon matter: refused."""
    ckpt = _old_checkpoint(tmp_path / "old", runs, scale=1.0)
    r = run_cli("export", str(ckpt), "-o", str(tmp_path / "out"))
    assert_one_line(r, 1, "retrain it with this tinylm")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"]
