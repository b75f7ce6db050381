"""POST /v1/fill-mask: the Hugging Face pipeline's candidates for each [MASK], as
`tinylm fill-mask --json` prints them. Concurrent requests to a bidirectional model with the
same options wait together on the worker and run as one forward per text length."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass

from fastapi import APIRouter, Request

from tinylm.errors import UsageError
from tinylm.infer.fill_mask import (
    causal_fill_note,
    encode_masked,
    fill_mask,
    fill_mask_batch,
    pipeline_json,
    target_ids,
)
from tinylm.serve.bridge import busy_error
from tinylm.serve.errors import ApiError
from tinylm.serve.registry import Served
from tinylm.serve.schemas import FillMaskRequest
from tinylm.serve.state import state
from tinylm.serve.worker import Busy, Stopped

router = APIRouter(prefix="/v1")


@dataclass(frozen=True)
class FillOptions:
    """What a fill asks besides its text; requests with equal options may share a forward."""

    top_k: int
    targets: tuple[str, ...] | None
    joint: bool
    shortlist: int


@router.post("/fill-mask")
async def fill(body: FillMaskRequest, request: Request) -> dict:
    """The likeliest tokens for each [MASK] of each text (a causal model's: simulated)."""
    st = state(request)
    served = st.registry.get(body.model)
    texts = [body.inputs] if isinstance(body.inputs, str) else body.inputs
    longest, most = max(len(t) for t in texts), st.limits.max_prompt
    if longest > most:
        raise ApiError(
            400, f"a text is {longest:,} characters; this server takes at most {most:,}.", "inputs"
        )
    targets = tuple(body.targets) if body.targets is not None else None
    options = FillOptions(body.top_k, targets, body.joint, body.shortlist)
    causal = served.ckpt.config.causal
    # joint fills re-read the text mask by mask, and a causal model rescores candidates one
    # forward each: neither shares a forward with other requests
    key = None if causal or body.joint else (served.id, options)
    futures = []
    try:
        for text in texts:
            futures.append(st.worker.submit_item(_fill_items, (served, text, options), key))
    except (Busy, Stopped) as e:
        for f in futures:
            f.cancel()
        raise busy_error(e) from None
    results = await asyncio.gather(*(asyncio.wrap_future(f) for f in futures))
    warnings = list(dict.fromkeys(w for _, ws in results for w in ws))
    shaped = [pipeline_json(cands) for cands, _ in results]
    return {
        "object": "fill_mask",
        "model": served.id,
        "simulated": causal,
        "note": causal_fill_note(served.id, body.shortlist) if causal else None,
        "warnings": warnings,
        "result": shaped[0] if isinstance(body.inputs, str) else shaped,
    }


def _fill_items(items: list[tuple[Served, str, FillOptions]]) -> list:
    """Fill each (model, text, options) of one key on the worker; texts of equal length share
    one forward. A text that cannot be filled gets its own 400; the others go on."""
    served, _, opts = items[0]
    model, tok, cfg = served.ckpt.model, served.tok, served.ckpt.config
    allowed, warnings = target_ids(tok, list(opts.targets)) if opts.targets else (None, [])
    out: list = [None] * len(items)
    by_length: dict[int, list[tuple[int, list[int]]]] = defaultdict(list)
    for i, (_, text, _) in enumerate(items):
        try:
            ids = encode_masked(tok, text, cfg.block_size, cfg.causal)
        except UsageError as e:
            out[i] = ApiError(400, str(e), "inputs")
            continue
        by_length[len(ids)].append((i, ids))
    for group in by_length.values():
        if len(group) > 1:  # only ever a group of one key: a bidirectional model, not joint
            filled = fill_mask_batch(model, tok, [ids for _, ids in group], opts.top_k, allowed)
        else:
            ids = group[0][1]
            filled = [fill_mask(model, tok, ids, opts.top_k, allowed, opts.joint, opts.shortlist)]
        for (i, _), cands in zip(group, filled, strict=True):
            out[i] = (cands, warnings)
    return out
