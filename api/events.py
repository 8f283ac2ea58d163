"""``GET /api/v1/events``: live updates as server-sent events (see :mod:`sportello.inbox.live`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from sportello.api.deps import CurrentUser, DaemonDep
from sportello.inbox.live import Broadcaster, LiveEvent

PING_S = 15.0
RETRY_MS = 3000

router = APIRouter(prefix="/api/v1", tags=["events"])


@router.get("/events", response_class=StreamingResponse)
async def events(daemon: DaemonDep, principal: CurrentUser) -> StreamingResponse:
    """A text/event-stream of ``message.created``, ``message.updated``,
    ``conversation.updated``, ``agent.availability`` and ``sync`` events, with a ``ping``
    every 15 s of quiet."""
    return StreamingResponse(
        _stream(daemon.live, principal.name),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _stream(live: Broadcaster, name: str) -> AsyncIterator[str]:
    async with live.subscribe() as subscription:
        yield f"retry: {RETRY_MS}\n\n"
        yield LiveEvent("hello", {"user": name}).sse()
        while (event := await subscription.next(PING_S)) is not None:
            yield event.sse()
