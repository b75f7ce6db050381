"""Checkpoint directories: config.json, model.safetensors, tokenizer.json, trainer state, optimizer.

Nothing is ever unpickled: weights are safetensors, metadata is JSON, and the optimizer state is
loaded with `torch.load(..., weights_only=True)`.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_model, save_model
from torch import nn

from tinylm import __version__
from tinylm.atomic import atomic_dir
from tinylm.data.tokenizer import file_sha256
from tinylm.errors import TinylmError, first_line
from tinylm.model import NORM_EPS, ROPE_BASE, ModelConfig, Transformer

FORMAT_VERSION = 1
TIED = ("tok_emb.weight", "head.weight")  # one matrix, two names
MAX_HEADER_BYTES = 4 * 2**20  # a safetensors header lists tensors: KBs for any tinylm model
MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json")
# model fields that older checkpoints saved, with the only values tinylm still builds
REMOVED_FIELDS = {
    "norm": "layernorm",
    "mlp": "gelu",
    "pos": "rope",
    "d_ff": 0,  # 0 meant 4 * d_model, which is also accepted written out
    "rope_base": ROPE_BASE,
}


def unwrap(model: nn.Module) -> nn.Module:
    """The plain module under torch.compile and DistributedDataParallel wrappers."""
    while True:
        if hasattr(model, "_orig_mod"):
            model = model._orig_mod
        elif hasattr(model, "module") and isinstance(model.module, nn.Module):
            model = model.module
        else:
            return model


def save_checkpoint(
    path: Path,
    model: nn.Module,
    tokenizer_path: Path,
    trainer_state: dict | None = None,
    optimizer_state: dict | None = None,
) -> None:
    """Write a checkpoint directory atomically, replacing an older one at `path`."""
    plain = unwrap(model)
    cfg: ModelConfig = plain.config
    with atomic_dir(path, force=True) as tmp:
        shutil.copyfile(tokenizer_path, tmp / "tokenizer.json")
        config = {
            "format_version": FORMAT_VERSION,
            "tinylm_version": __version__,
            "model": cfg.to_dict(),
            "tokenizer_sha256": file_sha256(tmp / "tokenizer.json"),
        }
        (tmp / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        weights = tmp / "model.safetensors"
        save_model(plain, str(weights))  # tied weights are stored once
        # safetensors writes through a 0600 temporary; give the weights the mode (the user's
        # umask) that the config file beside them got
        os.chmod(weights, (tmp / "config.json").stat().st_mode & 0o777)
        if trainer_state is not None:
            (tmp / "trainer_state.json").write_text(json.dumps(trainer_state, indent=2) + "\n")
        if optimizer_state is not None:
            buf = io.BytesIO()  # torch.save reports a full disk without an errno; Python does
            torch.save(optimizer_state, buf)
            (tmp / "optimizer.pt").write_bytes(buf.getbuffer())


@dataclass
class Checkpoint:
    """A loaded checkpoint directory."""

    path: Path
    config: ModelConfig
    model: Transformer

    @property
    def tokenizer_path(self) -> Path:
        return self.path / "tokenizer.json"


def read_config(path: Path) -> ModelConfig:
    """Check a checkpoint's files and tokenizer hash; return its model config."""
    if not path.is_dir():
        raise TinylmError(f"checkpoint {path} does not exist.")
    missing = [name for name in MODEL_FILES if not (path / name).is_file()]
    if missing:
        raise TinylmError(f"checkpoint {path} is incomplete: missing {', '.join(missing)}.")
    try:
        raw = json.loads((path / "config.json").read_text(encoding="utf-8"))
        if raw.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"format_version {raw.get('format_version')!r}")
        cfg = ModelConfig.from_dict(_drop_removed_fields(raw["model"], path))
        sha = raw["tokenizer_sha256"]
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise TinylmError(f"{path / 'config.json'} is corrupt or unsupported ({e}).") from e
    if file_sha256(path / "tokenizer.json") != sha:
        raise TinylmError(
            f"{path / 'tokenizer.json'} does not match the tokenizer this model was trained with."
        )
    return cfg


def _drop_removed_fields(model: dict, path: Path) -> dict:
    """The model fields without those tinylm removed; a value it no longer builds is refused."""
    kept = {k: v for k, v in model.items() if k not in REMOVED_FIELDS}
    for name, only in REMOVED_FIELDS.items():
        value = model.get(name, only)
        if name == "d_ff" and value == 4 * kept.get("d_model", 0):
            continue
        if value != only:
            raise TinylmError(
                f"{path / 'config.json'}: tinylm no longer builds {name}={value!r} "
                f"(only {name}={only!r})."
            )
    # written before the final norm's epsilon was a field: every final norm then had NORM_EPS
    kept.setdefault("final_norm_eps", NORM_EPS)
    return kept


def _header_shapes(weights: Path) -> dict[str, list[int]]:
    """Tensor names and shapes from a safetensors header, read without loading any tensor."""
    try:
        with open(weights, "rb") as f:
            size = int.from_bytes(f.read(8), "little")
            if not 2 <= size <= min(MAX_HEADER_BYTES, weights.stat().st_size - 8):
                raise ValueError(f"a header of {size} bytes")
            header = json.loads(f.read(size))
        return {k: list(v["shape"]) for k, v in header.items() if k != "__metadata__"}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise TinylmError(f"{weights} is corrupt ({first_line(e)}).") from e


def check_weights_fit(path: Path, cfg: ModelConfig) -> None:
    """The safetensors header must list exactly the tensors cfg builds: checked before building.

    A crafted config.json could otherwise ask for a model of any size; the weights file cannot
    lie about its own tensors, so nothing is allocated until the two agree.
    """
    shapes = _header_shapes(path / "model.safetensors")
    layers = {k.split(".")[1] for k in shapes if k.startswith("blocks.")}
    # the tied embedding is stored once, under either of its two names
    found = (shapes.get("head.weight", shapes.get("tok_emb.weight")), len(layers))
    if found != ([cfg.vocab_size, cfg.d_model], cfg.n_layer):
        raise TinylmError(
            f"{path / 'model.safetensors'} does not fit its config.json (the weights hold "
            f"{found[1]} layers and an embedding of {found[0]}; the config asks for "
            f"{cfg.n_layer} layers and [{cfg.vocab_size}, {cfg.d_model}])."
        )
    with torch.device("meta"):  # shapes only: no memory
        expected = {k: list(v.shape) for k, v in Transformer(cfg).state_dict().items()}
    tied = "head.weight" if "head.weight" in shapes else "tok_emb.weight"
    expected = {k: v for k, v in expected.items() if k not in TIED or k == tied}
    if expected != shapes:
        diff = sorted(set(expected) ^ set(shapes)) or sorted(
            k for k in expected if expected[k] != shapes[k]
        )
        raise TinylmError(
            f"{path / 'model.safetensors'} does not fit its config.json (first difference: "
            f"{diff[0]})."
        )


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> Checkpoint:
    """Rebuild the exact model of a checkpoint directory; loading is strict."""
    cfg = read_config(path)
    check_weights_fit(path, cfg)
    model = Transformer(cfg)
    try:
        missing, unexpected = load_model(model, str(path / "model.safetensors"), strict=False)
    except (SafetensorError, OSError, RuntimeError, ValueError) as e:
        raise TinylmError(
            f"{path / 'model.safetensors'} is corrupt or does not fit ({first_line(e)})."
        ) from e
    missing = [k for k in missing if k != "head.weight"]  # the head is the tied embedding
    if missing or unexpected:
        raise TinylmError(
            f"{path / 'model.safetensors'} does not fit its config.json "
            f"(missing: {', '.join(missing) or '-'}; unexpected: {', '.join(unexpected) or '-'})."
        )
    return Checkpoint(path, cfg, model.to(device))


def load_trainer_state(path: Path) -> tuple[dict, dict]:
    """The trainer state (JSON) and optimizer state (tensors only) of a checkpoint."""
    for name in ("trainer_state.json", "optimizer.pt"):
        if not (path / name).is_file():
            raise TinylmError(f"{path} cannot be resumed: missing {name}.")
    try:
        state = json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
    except ValueError as e:
        raise TinylmError(f"{path / 'trainer_state.json'} is corrupt ({first_line(e)}).") from e
    try:
        optim = torch.load(path / "optimizer.pt", map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated or foreign file fails in many ways inside the unpickler
        raise TinylmError(
            f"{path / 'optimizer.pt'} is corrupt or holds more than tensors and numbers; "
            "the run cannot be resumed exactly (start a new one with --init-from)."
        ) from e
    return state, optim
