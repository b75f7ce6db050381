"""Checks every request passes before a route sees it, and headers every response carries.

- Host: a server bound to the loopback answers only requests addressed to a loopback name, so
  a web page cannot reach it through DNS rebinding (a hostile name resolved to 127.0.0.1).
- Content-Type and size: a POST must say application/json, in at most MAX_BODY bytes. A browser
  sends a cross-site form or a text/plain fetch without asking first; with CORS off, a JSON one
  needs permission it never gets, so no other site can make this server work.
- Every response: a Content-Security-Policy that lets the page load only its own files (it is
  offline by construction, and injected markup could not run scripts), no MIME sniffing, no
  framing, no referrer.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tinylm.serve.errors import error_response
from tinylm.serve.limits import MAX_BODY

TOO_LARGE = f"the body is too large; this server takes at most {MAX_BODY:,} bytes."
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def hostname(host_header: str) -> str:
    """The name of a Host header, without its port: "[::1]:8000" -> "::1"."""
    if host_header.startswith("["):
        return host_header[1:].split("]", 1)[0]
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


class Guard:
    """ASGI middleware: the Host and Content-Type checks, and the response headers."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str] | None = None) -> None:
        self.app, self.hosts = app, hosts  # hosts None: any Host header (bound to all)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_headed(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(SECURITY_HEADERS)
            await send(message)

        problem = self._problem(Headers(scope=scope), scope["method"])
        if problem is not None:
            await error_response(*problem)(scope, receive, send_headed)
            return
        await self.app(scope, _capped(receive), send_headed)

    def _problem(self, headers: Headers, method: str) -> tuple[int, str] | None:
        if self.hosts is not None and hostname(headers.get("host", "")) not in self.hosts:
            names = ", ".join(sorted(self.hosts))
            return 400, f"this server answers requests addressed to {names} only."
        if method in ("POST", "PUT", "PATCH"):
            kind = headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if kind != "application/json":
                return 415, "send the body as JSON, with Content-Type: application/json."
            size = headers.get("content-length", "0")
            if not size.isdigit() or int(size) > MAX_BODY:
                return 413, TOO_LARGE
        return None


def _capped(receive: Receive) -> Receive:
    """`receive` that counts a body sent without a length (in chunks) and stops it past
    MAX_BODY: the route's body read raises the 413, which becomes a JSON error."""
    seen = 0

    async def receive_capped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > MAX_BODY:
                raise HTTPException(413, TOO_LARGE)
        return message

    return receive_capped
