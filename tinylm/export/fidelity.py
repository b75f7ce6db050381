"""What an export changes: the final LayerNorm's epsilon is the one thing a stock class may
compute differently from the checkpoint, so measure what it does to the logits."""

from __future__ import annotations

import torch

from tinylm.errors import TinylmError
from tinylm.model import EXACT_NORM_EPS, NORM_EPS, ModelConfig, Transformer

MAX_APPROX_ERROR = 1e-4  # largest |Δ logit| an approximate export may have
PROBE_ROWS, PROBE_LENGTH = 4, 128  # the probe batch: random token ids, seeded


def exported_norm_eps(cfg: ModelConfig) -> float:
    """The final norm's epsilon as the exported model computes it: GPT-NeoX (and llama.cpp) use
    NORM_EPS for every LayerNorm; the identity head of EsmForMaskedLM normalises with next to
    none (tinylm.export.esm)."""
    return NORM_EPS if cfg.causal else EXACT_NORM_EPS


@torch.inference_mode()
def final_norm_error(model: Transformer, eps: float, seed: int = 0) -> float:
    """Max |Δ logits| on a probe batch between `model` and the same model whose final LayerNorm
    has epsilon `eps`."""
    cfg = model.config
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(
        0, cfg.vocab_size, (PROBE_ROWS, min(PROBE_LENGTH, cfg.block_size)), generator=g
    )
    ids = ids.to(model.device)
    was_training, own = model.training, model.norm_f.eps
    model.eval()
    try:
        exact = model(ids).float()
        model.norm_f.eps = eps
        mapped = model(ids).float()
    finally:
        model.norm_f.eps = own
        model.train(was_training)
    return float((exact - mapped).abs().max())


def check_fidelity(model: Transformer, what: str) -> tuple[float | None, str | None]:
    """(measured max |Δ logits| or None when the mapping is exact, a warning or None); an
    error when the export would differ by more than MAX_APPROX_ERROR."""
    cfg = model.config
    target = exported_norm_eps(cfg)
    if cfg.norm_f_eps == target:
        return None, None
    error = final_norm_error(model, target)
    if error > MAX_APPROX_ERROR:
        raise TinylmError(
            f"this checkpoint's final LayerNorm (epsilon {cfg.norm_f_eps:g}) cannot be exported "
            f"exactly as {what}: its logits would differ by up to {error:.1e} (more than "
            f"{MAX_APPROX_ERROR:g}); retrain it with this tinylm to export it."
        )
    warning = (
        f"this checkpoint predates the exact final LayerNorm (epsilon {cfg.norm_f_eps:g}, "
        f"exported as {target:g}): the exported logits differ by up to {error:.1e} on a "
        "probe batch; retrain it with this tinylm for an exact export."
    )
    return error, warning
