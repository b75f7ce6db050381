"""Every error the API returns: a status and OpenAI's JSON body, {"error": {"message", "type",
"param", "code"}}, whatever went wrong (bad JSON, a wrong type, an unknown route or model)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from tinylm.errors import TinylmError, first_line

log = logging.getLogger("tinylm.serve")

KINDS = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    503: "server_busy",
}


TYPE_TAGS = {"str", "int", "float", "bool", "list", "dict", "none"}  # pydantic's union branches


class ApiError(Exception):
    """A request the server refuses: the HTTP status and a message that says what to change."""

    def __init__(
        self, status: int, message: str, param: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code


def error_response(
    status: int,
    message: str,
    param: str | None = None,
    code: str | None = None,
    headers: dict | None = None,
) -> JSONResponse:
    """The JSON error body every failure gets."""
    kind = KINDS.get(status, "server_error" if status >= 500 else "invalid_request_error")
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def _where(loc: tuple) -> list[str]:
    """The field path of a pydantic location, without "body" and union branch tags."""
    return [
        str(p)
        for p in loc
        if isinstance(p, int) or (p != "body" and p.isidentifier() and p not in TYPE_TAGS)
    ]


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    """One line from pydantic's complaints, naming the field ('n: Input should be ...'); of a
    union's branches, the one of the type that was sent (a list's, for a list)."""
    errors = exc.errors()
    first = errors[0]
    if first.get("type") == "json_invalid":
        return f"the body is not valid JSON ({first.get('ctx', {}).get('error', 'bad')}).", None
    where = _where(first.get("loc", ()))
    if not where:
        return f"the body must be a JSON object ({first.get('msg', 'invalid')}).", None
    same = [e for e in errors if _where(e.get("loc", ()))[:1] == where[:1]]
    if isinstance(first.get("input"), list):  # the list branch says what is wrong inside it
        same = [e for e in same if any(str(p).startswith("list[") for p in e["loc"])] or same
    chosen = same[0]
    return f"{'.'.join(_where(chosen['loc']))}: {chosen.get('msg', 'invalid value')}.", where[0]


def install_error_handlers(app: FastAPI) -> None:
    """Route every exception to a JSON error; the server keeps serving after each."""

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        headers = {"Retry-After": "1"} if exc.status == 503 else None
        return error_response(exc.status, exc.message, exc.param, exc.code, headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = _validation_message(exc)
        return error_response(400, message, param)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        return error_response(exc.status_code, detail, headers=exc.headers)

    @app.exception_handler(TinylmError)
    async def _tinylm(request: Request, exc: TinylmError) -> JSONResponse:
        return error_response(400, str(exc))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s", request.url.path)
        return error_response(500, f"internal error ({first_line(exc)}); the server goes on.")
