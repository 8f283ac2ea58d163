"""Live updates inside one daemon: who changed what, fanned out to every open event stream.

The journal worker (new and edited messages, delivery statuses), the outbox sender
(sent or failed) and the REST routes (assignments, status changes, replies) publish
here, from any thread. Each subscriber (one ``GET /api/v1/events`` stream) reads from
its own bounded queue on the daemon's event loop; a subscriber that falls behind gets
one ``sync`` event ("re-fetch what you show") instead of the events it missed.

With several replicas, a change made by another replica does not pass through this
process: :meth:`Broadcaster.poll_database` (a scheduler job) notices new messages and
conversation events in the shared database and publishes ``sync`` (and changed teams:
``teams.changed``); the web inbox also re-fetches on every ``ping``, which catches delivery
ticks recorded elsewhere.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func
from sqlmodel import select

from sportello.inbox.db import session_scope
from sportello.inbox.ingest import Ingested
from sportello.inbox.models import ConversationEvent, Message
from sportello.inbox.users import Team

QUEUE_SIZE = 256


@dataclass(frozen=True)
class LiveEvent:
    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    id: int = 0

    def sse(self) -> str:
        """The event in the text/event-stream wire format."""
        payload = json.dumps(self.data, separators=(",", ":"), default=str)
        head = f"id: {self.id}\n" if self.id else ""
        return f"{head}event: {self.kind}\ndata: {payload}\n\n"


class Subscription:
    """One reader's queue; lives on the daemon's event loop."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[LiveEvent | None] = asyncio.Queue(QUEUE_SIZE)
        self._lagging = False

    def offer(self, event: LiveEvent | None) -> None:
        if event is None:  # closing: make room so the reader surely sees the end
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait(None)
        elif self._queue.full():
            self._lagging = True
        else:
            self._queue.put_nowait(event)

    async def next(self, timeout: float) -> LiveEvent | None:
        """The next event; ``ping`` after ``timeout`` seconds of quiet; None once closed."""
        if self._lagging:
            self._lagging = False
            while not self._queue.empty():
                if self._queue.get_nowait() is None:
                    return None
            return LiveEvent("sync", {"reason": "lagging"})
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return LiveEvent("ping")


class Broadcaster:
    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ids = itertools.count(1)
        # (the newest message and conversation event, (how many teams, the latest change))
        self._fingerprint: tuple[tuple[int, int], tuple[object, ...]] | None = None

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver on ``loop`` (the daemon's); events published before this are dropped."""
        self._loop = loop

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def publish(self, kind: str, **data: Any) -> None:
        """Send an event to every subscriber; safe from any thread."""
        with self._lock:
            targets = list(self._subscribers)
            event = LiveEvent(kind, data, next(self._ids))
        self._offer(targets, event)

    def close(self) -> None:
        """End every open stream (the daemon is stopping)."""
        with self._lock:
            targets = list(self._subscribers)
        self._offer(targets, None)

    def _offer(self, targets: list[Subscription], event: LiveEvent | None) -> None:
        loop = self._loop
        if loop is None or loop.is_closed() or not targets:
            return
        for subscription in targets:
            loop.call_soon_threadsafe(subscription.offer, event)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription]:
        subscription = Subscription()
        with self._lock:
            self._subscribers.add(subscription)
        try:
            yield subscription
        finally:
            with self._lock:
                self._subscribers.discard(subscription)

    # feeds ------------------------------------------------------------------------

    def ingested(self, ingested: Ingested) -> None:
        """The journal worker's ``on_change``: what one delivery changed."""
        for message, _conversation in ingested.new_messages:
            self.publish("message.created", **_message_data(message))
        for message in ingested.edited:
            self.publish("message.updated", **_message_data(message))
        if ingested.statuses:
            self.publish("sync", reason="delivery statuses")
        for conversation_id, assignee in ingested.assigned:
            self.publish(
                "conversation.updated",
                conversation_id=conversation_id,
                actor="rules",
                assignee=assignee,
            )

    def sent(self, message: Message) -> None:
        """The outbox sender's ``on_change``: a message was sent or failed for good."""
        self.publish("message.updated", **_message_data(message))

    def poll_database(self, engine: Engine) -> bool:
        """Publish ``sync`` if the shared database moved since the last look (other replicas),
        and ``teams.changed`` if the teams did.

        Returns whether it published; the first look only takes the bearings.
        """
        if not self.subscribers:
            self._fingerprint = None
            return False
        with session_scope(engine) as session:
            fingerprint = (
                (
                    session.exec(select(func.max(Message.id))).one() or 0,
                    session.exec(select(func.max(ConversationEvent.id))).one() or 0,
                ),
                tuple(session.exec(select(func.count(), func.max(Team.updated_at))).one()),
            )
        previous, self._fingerprint = self._fingerprint, fingerprint
        if previous is None or previous == fingerprint:
            return False
        if previous[0] != fingerprint[0]:
            self.publish("sync", reason="database changed")
        if previous[1] != fingerprint[1]:
            self.publish("teams.changed")
        return True


def message_keys(message: Message) -> dict[str, Any]:
    """Which message, and where: what every event about a message says first (the live
    events, the integration webhooks')."""
    return {
        "message_id": message.id,
        "conversation_id": message.conversation_id,
        "customer_id": message.customer_id,
        "channel": message.channel,
        "direction": message.direction,
    }


def _message_data(message: Message) -> dict[str, Any]:
    return {**message_keys(message), "delivery_status": message.delivery_status}
