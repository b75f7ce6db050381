"""The models a server holds, loaded once at start and addressed by id: a request names an id
from this set, never a path, so nothing a client sends reaches the filesystem."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer

from tinylm.checkpoint import Checkpoint
from tinylm.curves import list_runs
from tinylm.errors import TinylmError
from tinylm.infer.loading import fallback_note, load_for_inference
from tinylm.serve.errors import ApiError


@dataclass(frozen=True)
class Served:
    """One loaded checkpoint and what the API says about it."""

    id: str
    run: Path  # the directory the user named
    ckpt: Checkpoint
    tok: Tokenizer

    @property
    def objective(self) -> str:
        return self.ckpt.config.objective

    def card(self) -> dict:
        """The model's entry in GET /v1/models (OpenAI's fields first, then tinylm's)."""
        cfg = self.ckpt.config
        params = sum(p.numel() for p in self.ckpt.model.parameters())
        return {
            "id": self.id,
            "object": "model",
            "created": int((self.ckpt.path / "config.json").stat().st_mtime),
            "owned_by": "tinylm",
            "objective": cfg.objective,
            "parameters": params,
            "context": cfg.block_size,
            "vocab_size": cfg.vocab_size,
            "n_layer": cfg.n_layer,
            "n_head": cfg.n_head,
            "d_model": cfg.d_model,
            "checkpoint": self.ckpt.path.name,
            "run": self.run.name,
        }


class Registry:
    """The loaded models by id, in the order they were given."""

    def __init__(self, models: list[Served]) -> None:
        self.models = {m.id: m for m in models}

    def get(self, model_id: str) -> Served:
        """The model with this id; a 404 naming the ids there are otherwise."""
        if model_id not in self.models:
            known = ", ".join(self.models) or "none"
            raise ApiError(
                404,
                f"model {model_id!r} is not loaded here; use one of: {known}.",
                param="model",
                code="model_not_found",
            )
        return self.models[model_id]


def _model_id(run: Path, ckpt_path: Path, taken: set[str]) -> str:
    """A run directory's name (a checkpoint directory: "run/best"), made unique with -2, -3."""
    where = run.resolve()
    base = where.name if ckpt_path != run else f"{where.parent.name}/{where.name}"
    name, k = base, 2
    while name in taken:
        name, k = f"{base}-{k}", k + 1
    return name


def load_models(
    runs: list[Path], which: str, device: torch.device, skip_broken: bool = False
) -> tuple[Registry, list[str]]:
    """Load each run (its `which`/ checkpoint, else last/) for serving; the notes to show the
    user. `skip_broken`: a run that does not load is noted and left out (runs found by a scan,
    where one may still be training); otherwise its error stops the start."""
    models: list[Served] = []
    notes: list[str] = []
    for run in runs:
        try:
            ckpt, tok = load_for_inference(run, which, device)
        except TinylmError as e:
            if not skip_broken:
                raise
            notes.append(f"Skipped {run}: {e}")
            continue
        note = fallback_note(run, which, ckpt.path)
        if note:
            notes.append(note)
        served_id = _model_id(run, ckpt.path, {m.id for m in models})
        models.append(Served(served_id, run, ckpt, tok))
    return Registry(models), notes


def find_runs(root: Path) -> list[Path]:
    """The run directories under `root` that hold a checkpoint (best/ or last/)."""
    return [p for p in list_runs(root) if (p / "best").is_dir() or (p / "last").is_dir()]
