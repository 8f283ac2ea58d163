"""``GET /api/v1/events``: live updates as server-sent events (see :mod:`sportello.inbox.live`)."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from sportello.api.deps import CurrentUser, DaemonDep, Principal
from sportello.inbox import accounts
from sportello.inbox.db import session_scope
from sportello.inbox.live import LiveEvent

if TYPE_CHECKING:
    from sportello.daemon import Daemon

PING_S = 15.0
RETRY_MS = 3000
SEEN_EVERY_S = 20.0  # with the pings, ``seen_at`` is never older than about 35 s

router = APIRouter(prefix="/api/v1", tags=["events"])


@router.get("/events", response_class=StreamingResponse)
async def events(daemon: DaemonDep, principal: CurrentUser) -> StreamingResponse:
    """A text/event-stream of ``message.created``, ``message.updated``,
    ``conversation.updated``, ``customer.updated``, ``note.created``, ``note.mention``,
    ``conversation.viewers``, ``agent.availability``, ``teams.changed`` and ``sync`` events,
    with a ``ping`` every 15 s of quiet. While it is open, its user counts as present for
    automatic assignment."""
    return StreamingResponse(
        _stream(daemon, principal),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _stream(daemon: Daemon, principal: Principal) -> AsyncIterator[str]:
    live = daemon.live
    presence = _Presence(daemon, principal.user_id)
    async with live.subscribe() as subscription:
        await presence.mark()  # before "hello": a client that has it counts as present
        yield f"retry: {RETRY_MS}\n\n"
        yield LiveEvent("hello", {"user": principal.name}).sse()
        while (event := await subscription.next(PING_S)) is not None:
            yield event.sse()
            await presence.mark()


class _Presence:
    """Marks the stream's user as seen (``users.seen_at``) at most every ``SEEN_EVERY_S``."""

    def __init__(self, daemon: Daemon, user_id: int | None) -> None:
        self.daemon, self.user_id = daemon, user_id
        self._marked = -math.inf

    async def mark(self) -> None:
        if self.user_id is None or time.monotonic() - self._marked < SEEN_EVERY_S:
            return  # a configured token is no user
        self._marked = time.monotonic()
        await asyncio.to_thread(self._write, self.user_id)

    def _write(self, user_id: int) -> None:
        daemon = self.daemon
        with daemon.write_lock.background, session_scope(daemon.engine) as session:
            accounts.mark_seen(session, user_id, daemon.clock.now())
