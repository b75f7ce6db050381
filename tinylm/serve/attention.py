"""POST /v1/attention: what each token of a text attends to, one layer and head or the mean,
as `tinylm attention --json` computes it (a causal model fills the lower triangle only)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from tinylm.infer.attention import attention_maps, select_map, token_labels, visibility
from tinylm.infer.loading import encode_text
from tinylm.serve.bridge import run_task
from tinylm.serve.errors import ApiError
from tinylm.serve.registry import Served
from tinylm.serve.schemas import AttentionRequest
from tinylm.serve.state import state

router = APIRouter(prefix="/v1")


@router.post("/attention")
async def attention(body: AttentionRequest, request: Request) -> dict:
    """The attention map of `text` (its first `context` tokens) under a loaded model."""
    st = state(request)
    served = st.registry.get(body.model)
    if not body.text:
        raise ApiError(400, "text is empty; give some text to look at.", "text")
    if len(body.text) > st.limits.max_prompt:
        raise ApiError(400, f"text is longer than {st.limits.max_prompt:,} characters.", "text")
    return await run_task(st.worker, lambda: _maps(served, body))


def _maps(served: Served, body: AttentionRequest) -> dict:
    cfg, tok = served.ckpt.config, served.tok
    for name, value, n in (("layer", body.layer, cfg.n_layer), ("head", body.head, cfg.n_head)):
        if value is not None and value >= n:
            raise ApiError(400, f"{name} {value} is out of range: use 0 to {n - 1}.", name)
    ids, _ = encode_text(tok, body.text)
    if not ids:
        raise ApiError(400, "text gave no tokens; give some text to look at.", "text")
    truncated = len(ids) > cfg.block_size
    ids = ids[: cfg.block_size]
    grid = select_map(attention_maps(served.ckpt.model, ids), body.layer, body.head)
    return {
        "object": "attention",
        "model": served.id,
        "objective": cfg.objective,
        "causal": cfg.causal,
        "visibility": visibility(cfg.causal),
        "n_layer": cfg.n_layer,
        "n_head": cfg.n_head,
        "layer": body.layer,
        "head": body.head,
        "truncated": truncated,
        "ids": ids,
        "tokens": [tok.decode([i], skip_special_tokens=False) for i in ids],
        "labels": token_labels(tok, ids, width=8),
        "map": [[round(w, 5) for w in row] for row in grid.tolist()],
    }
