"""What each token attends to: the attention probabilities of every layer and head, for display.

The maps come from `Attention.weights`, fed with the exact inputs the forward pass gave each
layer, so they are the weights the model really used (causal mask included), not a re-derivation.
"""

from __future__ import annotations

import torch
from tokenizers import Tokenizer

from tinylm.model import Transformer

# visible stand-ins for characters that would vanish or break a row of labels
_VISIBLE = {"\n": "\\n", "\t": "\\t", "\r": "\\r", " ": "·", "▁": "·"}


def attention_maps(model: Transformer, ids: list[int]) -> torch.Tensor:
    """Attention probabilities (n_layer, n_head, T, T) of one sequence, on the CPU in float32."""
    if not ids:
        raise ValueError("no tokens to look at; give some text.")
    if len(ids) > model.config.block_size:
        raise ValueError(f"{len(ids)} tokens exceed block_size {model.config.block_size}")
    device = model.device
    captured: list[tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None]] = []

    def grab(module: torch.nn.Module, args: tuple) -> None:
        captured.append((args[0], args[1]))  # Block calls attn(x, rope, cache, layer)

    hooks = [block.attn.register_forward_pre_hook(grab) for block in model.blocks]
    was_training = model.training
    model.eval()  # dropout would make the maps differ from run to run
    try:
        with torch.inference_mode():
            model(torch.tensor([ids], dtype=torch.long, device=device))
            maps = [
                blk.attn.weights(x, rope)[0]
                for blk, (x, rope) in zip(model.blocks, captured, strict=True)
            ]
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return torch.stack(maps).float().cpu()  # (L, H, T, T)


def _check_index(name: str, value: int, n: int) -> None:
    if not 0 <= value < n:
        plural = "s" if n > 1 else ""
        valid = "0" if n == 1 else f"0 to {n - 1}"
        raise ValueError(
            f"{name} {value} is out of range: this model has {n} {name}{plural}, use {valid}."
        )


def select_map(maps: torch.Tensor, layer: int | None, head: int | None) -> torch.Tensor:
    """One (T, T) map from (n_layer, n_head, T, T): a chosen layer/head, or the mean over it."""
    n_layer, n_head = maps.shape[:2]
    if layer is not None:
        _check_index("layer", layer, n_layer)
    if head is not None:
        _check_index("head", head, n_head)
    # means of probability rows are still probability rows, so the result stays a distribution
    m = maps.mean(0) if layer is None else maps[layer]
    return m.mean(0) if head is None else m[head]


def token_labels(tok: Tokenizer, ids: list[int], width: int = 6) -> list[str]:
    """Short display labels for tokens: whitespace made visible, cut to `width` characters."""
    labels = []
    for i in ids:
        # decoders drop a lone token's leading space (Metaspace) or "##" (WordPiece) to nothing
        piece = tok.decode([i], skip_special_tokens=False) or tok.id_to_token(i) or f"<{i}>"
        piece = "".join(_VISIBLE.get(ch, ch) for ch in piece)
        labels.append(piece if len(piece) <= width else piece[: width - 1] + "…")
    return labels


def visibility(causal: bool) -> str:
    """One sentence on what the architecture lets each token see."""
    if causal:
        return "causal model: each token sees itself and the past (lower triangle)"
    return "masked model: every token sees the whole text"
