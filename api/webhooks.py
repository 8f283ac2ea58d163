"""Webhook handshakes (``GET /webhooks/{channel}``): a platform proves the URL is ours.

Deliveries (``POST``) are answered before the router, by ``api/webhook_intake.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from sportello.api.deps import DaemonDep
from sportello.connectors.base import CHANNELS, Connector

if TYPE_CHECKING:
    from sportello.daemon import Daemon

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


def enabled_connector(daemon: Daemon, channel: str) -> Connector | None:
    """The connector of ``channel`` if it is a platform and enabled in the configuration."""
    return daemon.connectors.get(channel) if channel in CHANNELS else None


@router.get("/{channel}")
def handshake(channel: str, request: Request, daemon: DaemonDep) -> Response:
    connector = enabled_connector(daemon, channel)
    if connector is None:
        raise HTTPException(404, f"channel {channel} is not enabled")
    reply = connector.handshake(request.query_params)
    if isinstance(reply.body, dict):
        return JSONResponse(reply.body, status_code=reply.status)
    return PlainTextResponse(reply.body, status_code=reply.status)
