"""Put an export together: check that the format fits the model, measure what the mapping
changes, and write every file into a temporary directory that is renamed to --out at the end."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from safetensors.torch import save_file
from tokenizers import Tokenizer

from tinylm.atomic import atomic_dir, check_out_clear
from tinylm.checkpoint import Checkpoint
from tinylm.data.tokenizer import tokenizer_kind
from tinylm.errors import UsageError
from tinylm.export import FORMATS, esm, gguf_writer, neox
from tinylm.export.card import DEFAULT_LICENSE, CardInput, generation_config
from tinylm.export.card_text import model_card
from tinylm.export.fidelity import check_fidelity
from tinylm.export.run_facts import read_run_facts
from tinylm.export.tokenizer_files import write_tokenizer_files

GGUF_FILE = "model.gguf"


@dataclass
class ExportResult:
    """What an export wrote, and how close it is."""

    out: Path
    checkpoint: Path
    fmt: str
    architecture: str
    files: list[str] = field(default_factory=list)
    max_error: float | None = None  # measured max |Δ logits|; None: exact by construction
    warning: str | None = None


def architecture(ckpt: Checkpoint, fmt: str) -> str:
    """The class (hf) or llama.cpp architecture (gguf) the model becomes."""
    if fmt == "gguf":
        return gguf_writer.ARCHITECTURE
    return neox.ARCHITECTURE if ckpt.config.causal else esm.ARCHITECTURE


def check_fit(ckpt: Checkpoint, tok: Tokenizer, fmt: str) -> None:
    """Refuse a format that does not fit the model's family or tokenizer (exit 2)."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}.")
    if fmt == "gguf":
        gguf_writer.check_gguf_fit(ckpt.config.objective, tokenizer_kind(tok))


def _write_hf(ckpt: Checkpoint, tok: Tokenizer, tmp: Path) -> None:
    cfg, model = ckpt.config, ckpt.model
    config, weights = (
        (neox.neox_config(cfg), neox.neox_state_dict(model))
        if cfg.causal
        else (esm.esm_config(cfg), esm.esm_state_dict(model))
    )
    (tmp / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    save_file(weights, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    # safetensors writes through a 0600 temporary: give the weights the config file's mode
    os.chmod(tmp / "model.safetensors", (tmp / "config.json").stat().st_mode & 0o777)
    write_tokenizer_files(tok, tmp, cfg.block_size, cfg.causal)
    if cfg.causal:
        text = json.dumps(generation_config(cfg), indent=2) + "\n"
        (tmp / "generation_config.json").write_text(text, encoding="utf-8")


def export_checkpoint(
    ckpt: Checkpoint,
    tok: Tokenizer,
    out: Path,
    fmt: str = "hf",
    force: bool = False,
    license: str = DEFAULT_LICENSE,
) -> ExportResult:
    """Export a loaded checkpoint to the directory `out` (replaced only with `force`)."""
    check_out_clear(out, [ckpt.path])
    check_fit(ckpt, tok, fmt)
    arch = architecture(ckpt, fmt)
    max_error, warning = check_fidelity(ckpt.model, arch)
    card = CardInput(
        cfg=ckpt.config,
        facts=read_run_facts(ckpt.path),
        fmt=fmt,
        architecture=arch,
        tokenizer_kind=tokenizer_kind(tok),
        params=ckpt.model.num_params(),
        license=license,
        max_error=max_error,
    )
    with atomic_dir(out, force=force) as tmp:
        if fmt == "gguf":
            gguf_writer.write_gguf(ckpt.model, tok, tmp / GGUF_FILE, card.facts.name)
        else:
            _write_hf(ckpt, tok, tmp)
        repo = Path(os.path.abspath(out)).name  # how the card's examples name the model
        (tmp / "README.md").write_text(model_card(card, repo), encoding="utf-8")
        files = sorted(p.name for p in tmp.iterdir())
    return ExportResult(out, ckpt.path, fmt, arch, files, max_error, warning)
