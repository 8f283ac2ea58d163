"""``/api/v1/channels/x/usage``: the X poller's requests against its budget."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from sportello.api.deps import Caller, DaemonDep, SessionDep
from sportello.inbox.polling import read_cursor

router = APIRouter(prefix="/api/v1/channels/x", tags=["channels"])


@router.get("/usage")
def x_usage(session: SessionDep, daemon: DaemonDep, _: Caller) -> dict[str, Any]:
    """Requests made today and this month (UTC), the configured budget, and endpoint pauses."""
    connector = daemon.connectors.get("x")
    if connector is None:
        raise HTTPException(404, "channel x is not enabled")
    return connector.usage(read_cursor(session, "x:updates"))  # type: ignore[attr-defined, no-any-return]
