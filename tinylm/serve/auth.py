"""The API key: with one set, every API route needs `Authorization: Bearer <key>`, the header
OpenAI's clients send. The page's files are public (they hold no data); its calls send the key."""

from __future__ import annotations

import hmac

from fastapi import Request

from tinylm.serve.errors import ApiError
from tinylm.serve.state import state


def require_key(request: Request) -> None:
    """A 401 unless the request carries the server's key (compared in constant time)."""
    key = state(request).api_key
    if key is None:
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), key.encode()):
        raise ApiError(
            401,
            "this server needs its API key: send Authorization: Bearer <key>.",
            code="invalid_api_key",
        )
