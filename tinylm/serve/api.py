"""The OpenAI-compatible routes: GET /v1/models, POST /v1/completions (streamed as server-sent
events ending in `data: [DONE]`, as OpenAI's clients expect)."""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from tinylm.errors import TinylmError, first_line
from tinylm.serve.bridge import Bridge
from tinylm.serve.completions import Piece, Plan, completion_events, plan_completion
from tinylm.serve.errors import ApiError
from tinylm.serve.schemas import CompletionRequest
from tinylm.serve.state import state

log = logging.getLogger("tinylm.serve")
router = APIRouter(prefix="/v1")
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@router.get("/models")
async def list_models(request: Request) -> dict:
    """Every loaded model, with its family and size."""
    models = state(request).registry.models.values()
    return {"object": "list", "data": [m.card() for m in models]}


@router.get("/models/{model_id:path}")
async def get_model(model_id: str, request: Request) -> dict:
    """One loaded model (an id with a slash, like "run/best", included)."""
    return state(request).registry.get(model_id).card()


def _label(plan: Plan) -> dict:
    """tinylm's extension: how the text was made, labelled as `tinylm generate` labels it."""
    return {"method": plan.method, "simulated": plan.method == "simulated", "note": plan.note}


@router.post("/completions", response_model=None)
async def completions(body: CompletionRequest, request: Request) -> dict | StreamingResponse:
    """Sample text from a loaded model; `stream` sends it as it comes."""
    st = state(request)
    plan = plan_completion(st.registry.get(body.model), body, st.limits)
    bridge = Bridge(st.worker, completion_events(plan))  # a full queue: 503 here, before a byte
    head = {
        "id": f"cmpl-{secrets.token_hex(12)}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": plan.served.id,
    }
    if body.stream:
        usage = body.stream_options is not None and body.stream_options.include_usage
        return StreamingResponse(
            _sse(bridge, plan, head, usage), media_type="text/event-stream", headers=SSE_HEADERS
        )
    return await _collect(bridge, plan, head)


def _count(usage: dict, piece: Piece, n: int) -> None:
    """Add a choice's last piece to OpenAI's usage (a prompt counts once, not once per choice)."""
    usage["completion_tokens"] += piece.tokens
    usage["prompt_tokens"] += piece.prompt_tokens if piece.index % n == 0 else 0
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]


async def _collect(bridge: Bridge, plan: Plan, head: dict) -> dict:
    count = len(plan.prompts) * plan.n
    texts: list[list[str]] = [[] for _ in range(count)]
    finish: list[str | None] = [None] * count
    usage = dict.fromkeys(("prompt_tokens", "completion_tokens", "total_tokens"), 0)
    async for piece in bridge.events():
        texts[piece.index].append(piece.text)
        if piece.finish is not None:
            finish[piece.index] = piece.finish
            _count(usage, piece, plan.n)
    choices = [
        {
            "index": i,
            "text": "".join(texts[i]),
            "finish_reason": finish[i],
            "logprobs": None,
            "seed": plan.seed_of(i),
        }
        for i in range(count)
    ]
    return {**head, "choices": choices, "usage": usage, "tinylm": _label(plan)}


def _event(data: dict) -> str:
    return f"data: {json.dumps(data)}\n\n"


def _merged(batch: list[Piece]) -> list[Piece]:
    """A worker turn's pieces as one per choice (its text joined, its finish kept): one SSE
    event per choice and turn rather than per token."""
    by_choice: dict[int, list[Piece]] = {}
    for piece in batch:
        by_choice.setdefault(piece.index, []).append(piece)
    return [
        Piece(i, "".join(p.text for p in pieces), pieces[-1].finish)
        for i, pieces in by_choice.items()
    ]


async def _sse(bridge: Bridge, plan: Plan, head: dict, usage: bool) -> AsyncIterator[str]:
    """An event per choice for each bunch of settled text, the finish reason on each choice's
    last (`usage`: then a chunk with no choices and the usage); an error after the stream began
    is an event with OpenAI's error body; always `data: [DONE]` last."""
    started: set[int] = set()
    counts = dict.fromkeys(("prompt_tokens", "completion_tokens", "total_tokens"), 0)
    try:
        async for batch in bridge.batches():
            for piece in batch:
                if piece.finish is not None:
                    _count(counts, piece, plan.n)
            for piece in _merged(batch):
                if not piece.text and piece.finish is None:
                    continue
                choice = {
                    "index": piece.index,
                    "text": piece.text,
                    "finish_reason": piece.finish,
                    "logprobs": None,
                }
                chunk = {**head, "choices": [choice]}
                if piece.index not in started:  # a choice's first chunk says how it is made
                    started.add(piece.index)
                    chunk["tinylm"] = {**_label(plan), "seed": plan.seed_of(piece.index)}
                yield _event(chunk)
        if usage:
            yield _event({**head, "choices": [], "usage": counts})
    except ApiError as e:
        yield _event({"error": {"message": e.message, "type": "server_error", "code": e.code}})
    except (TinylmError, ValueError) as e:
        yield _event({"error": {"message": str(e), "type": "invalid_request_error"}})
    except Exception as e:  # noqa: BLE001 - the client hears of it; the server goes on
        log.exception("a completion stream failed")
        yield _event({"error": {"message": f"internal error ({first_line(e)})"}})
    yield "data: [DONE]\n\n"
