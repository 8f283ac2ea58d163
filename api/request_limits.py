"""Request bodies within bounds, and validation errors that do not echo them back.

Outside the webhook intake (which has its own 1 MiB limit), a body may be 2 MiB, or 26 MiB
for a multipart upload (a reply's file, up to 25 MiB): a larger one is answered ``413``
without being read whole, whether it declares its length or streams in chunks. The sign-in
form answers anyone, so this is no matter of trust. A ``422`` says what was wrong with a
value without sending a long one back.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 2 * 1024 * 1024
MAX_UPLOAD_BODY = 26 * 1024 * 1024
ECHOED = 200  # characters of a refused value a 422 repeats


def body_limit(scope: Scope) -> int:
    for name, value in scope["headers"]:
        if name == b"content-type" and value.lower().startswith(b"multipart/form-data"):
            return MAX_UPLOAD_BODY
    return MAX_BODY


def _too_large(limit: int) -> str:
    return f"request body over {limit // 2**20} MiB"


async def bounded(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Run ``app`` on an HTTP request whose body may not pass its limit."""
    limit = body_limit(scope)
    declared = next((v for n, v in scope["headers"] if n == b"content-length"), None)
    if declared is not None and declared.isdigit() and int(declared) > limit:
        await JSONResponse({"detail": _too_large(limit)}, 413)(scope, receive, send)
        return
    received = 0

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:  # raised where the route reads its body: a 413
                raise HTTPException(413, _too_large(limit))
        return message

    await app(scope, counted, send)


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own 422, each refused value cut short."""
    assert isinstance(exc, RequestValidationError)
    errors = [_shortened(error) for error in exc.errors()]
    return JSONResponse({"detail": jsonable_encoder(errors)}, 422)


def _shortened(error: dict[str, Any]) -> dict[str, Any]:
    value = error.get("input")
    if isinstance(value, str | bytes) and len(value) > ECHOED:
        return {**error, "input": value[:ECHOED]}
    if isinstance(value, dict | list) and len(repr(value)) > ECHOED:
        return {key: item for key, item in error.items() if key != "input"}
    return error
