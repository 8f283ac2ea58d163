"""Webhook routes: verify, journal the raw body, answer. Parsing happens after, in the worker."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from sportello.api.deps import DaemonDep
from sportello.connectors.base import CHANNELS, Connector

MAX_BODY = 1024 * 1024

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


def _connector(daemon: Any, channel: str) -> Connector:
    connector = daemon.connectors.get(channel) if channel in CHANNELS else None
    if connector is None:
        raise HTTPException(404, f"channel {channel} is not enabled")
    return connector  # type: ignore[no-any-return]


@router.get("/{channel}")
def handshake(channel: str, request: Request, daemon: DaemonDep) -> Response:
    reply = _connector(daemon, channel).handshake(request.query_params)
    if isinstance(reply.body, dict):
        return JSONResponse(reply.body, status_code=reply.status)
    return PlainTextResponse(reply.body, status_code=reply.status)


@router.post("/{channel}")
async def receive(channel: str, request: Request, daemon: DaemonDep) -> dict[str, bool]:
    with daemon.intake.receiving():  # the journal worker steps aside meanwhile
        return await _journal(channel, request, daemon)


async def _journal(channel: str, request: Request, daemon: Any) -> dict[str, bool]:
    connector = _connector(daemon, channel)
    body = await _read_limited(request)
    headers = {k.lower(): v for k, v in request.headers.items()}
    if not connector.verify(headers, body):
        raise HTTPException(403, "missing or invalid signature")
    try:
        json.loads(body)
    except ValueError:
        raise HTTPException(400, "body is not JSON") from None
    try:
        await daemon.journal.append(
            channel=channel,
            body=body,
            headers=headers,
            received_at=daemon.clock.now(),
            platform_key=connector.dedup_key(body),
        )
    except Exception:  # nothing was stored: the platform retries later
        raise HTTPException(503, "the delivery could not be stored; try again") from None
    daemon.wake_worker()
    return {"ok": True}


async def _read_limited(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise HTTPException(413, "body over 1 MiB")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise HTTPException(413, "body over 1 MiB")
        chunks.append(chunk)
    return b"".join(chunks)
