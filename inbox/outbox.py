"""The persistent outbox: every outbound message is queued with its message, then sent.

:func:`queue` writes the message and its outbox item in the caller's transaction.
:class:`OutboxSender` delivers due items through the connectors, retrying with
exponential backoff (honouring a platform's retry-after) until it succeeds, the
platform refuses for good, or the item runs out of attempts. Messages to one conversation
leave in the order they were queued: an item waits while an older one of its conversation
is still unfinished (being retried), so a customer never reads the second answer first.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import asdict, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BindParameter, Engine, bindparam, exists, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from sportello.connectors.base import (
    Button,
    Connector,
    OutboundFile,
    OutboundMessage,
    SendError,
    SendResult,
)
from sportello.inbox.clock import Clock
from sportello.inbox.conversations import note_agent_message
from sportello.inbox.db import session_scope
from sportello.inbox.ingest import apply_status, find_message
from sportello.inbox.models import Conversation, EarlyStatus, Message, MessageFile, OutboxItem
from sportello.inbox.waiting import wait_any

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 600.0
LEASE = timedelta(minutes=2)
UNFINISHED = ("pending", "sending")
_QUEUED = "sportello.outbox.queued"  # session.info: queue() was called in this session


def take_queued(session: Session) -> bool:
    """Whether :func:`queue` stored anything in ``session`` since the last ask: the sender
    needs waking only then."""
    return bool(session.info.pop(_QUEUED, False))


def queue(
    session: Session,
    conversation: Conversation,
    text: str,
    *,
    now: datetime,
    author: str = "agent",
    sent_by: str | None = None,
    purpose: str = "reply",
    buttons: tuple[Button, ...] = (),
    reply_to_external_id: str | None = None,
    file: OutboundFile | None = None,
) -> Message:
    """Store an outbound message and its outbox item in the caller's transaction; a
    ``file`` is stored beside the message (the item names it, the sender reads it)."""
    assert conversation.id is not None
    message = Message(
        conversation_id=conversation.id,
        customer_id=conversation.customer_id,
        channel=conversation.channel,
        direction="out",
        author=author,
        sent_by=sent_by,
        text=text,
        sent_at=now,
        received_at=now,
        delivery_status="queued",
    )
    session.add(message)
    session.flush()
    assert message.id is not None
    outbound = outbound_for(conversation, text, purpose, buttons, reply_to_external_id, file)
    payload = _payload(outbound)
    if file is not None:
        stored = MessageFile(
            message_id=message.id, name=file.name, mime_type=file.mime_type, content=file.content
        )
        session.add(stored)
        session.flush()
        payload["file"] = {"id": stored.id, "name": file.name, "mime_type": file.mime_type}
        message.attachments = [
            {
                "kind": file.kind,
                "name": file.name,
                "mime_type": file.mime_type,
                "file_id": stored.id,
            }
        ]
    session.add(
        OutboxItem(
            message_id=message.id,
            channel=conversation.channel,
            payload=payload,
            next_attempt_at=now,
            created_at=now,
        )
    )
    if author == "agent":
        note_agent_message(conversation, now)
    session.info[_QUEUED] = True
    return message


def _payload(message: OutboundMessage) -> dict[str, Any]:
    data = asdict(replace(message, file=None))  # a file is stored beside the message
    del data["file"]
    if message.last_customer_message_at is not None:
        data["last_customer_message_at"] = message.last_customer_message_at.isoformat()
    return data


def outbound_for(
    conversation: Conversation,
    text: str,
    purpose: str = "reply",
    buttons: tuple[Button, ...] = (),
    reply_to_external_id: str | None = None,
    file: OutboundFile | None = None,
) -> OutboundMessage:
    """What the connector is asked to send for ``text`` (and ``file``) in ``conversation``."""
    return OutboundMessage(
        channel=conversation.channel,  # type: ignore[arg-type]
        thread_external_id=conversation.thread_external_id,
        recipient_external_id=conversation.recipient_external_id,
        text=text,
        purpose=purpose,  # type: ignore[arg-type]
        reply_to_external_id=reply_to_external_id,
        buttons=buttons,
        last_customer_message_at=conversation.last_customer_message_at,
        public=conversation.public,
        file=file,
    )


def _outbound(payload: Mapping[str, Any], files: Mapping[int, bytes]) -> OutboundMessage:
    """The message an item's payload describes; ``files``: the content of stored files."""
    data = dict(payload)
    data["buttons"] = tuple(Button(**b) for b in data.get("buttons", ()))
    named = data.pop("file", None)
    if named is not None:
        data["file"] = OutboundFile(named["name"], named["mime_type"], files[named["id"]])
    if data.get("last_customer_message_at"):
        data["last_customer_message_at"] = datetime.fromisoformat(data["last_customer_message_at"])
    return OutboundMessage(**data)


def backoff_s(attempts: int, retry_after: float | None = None) -> float:
    """Seconds before the next attempt: doubling from :data:`FIRST_BACKOFF_S` with jitter,
    at least retry-after."""
    delay = min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2.0 ** max(attempts - 1, 0))
    delay *= random.uniform(0.8, 1.2)
    return max(delay, retry_after or 0.0)


class OutboxSender:
    """Sends due outbox items; one instance per daemon, safe beside other replicas."""

    def __init__(
        self,
        engine: Engine,
        connectors: Mapping[str, Connector],
        clock: Clock,
        *,
        batch: int = 20,
        idle_s: float = 1.0,
        on_change: Callable[[Message], None] | None = None,
    ) -> None:
        self.engine = engine
        self.connectors = connectors
        self.clock = clock
        self.batch = batch
        self.idle_s = idle_s  # between rounds that found nothing, unless woken
        self.on_change = on_change
        self.wake = asyncio.Event()
        self._due = _due_items(batch)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.wake.clear()  # before the round: a wake during it starts the next one
            try:
                sent = await self.send_due()
            except Exception:
                log.exception("outbox round failed")
                sent = 0
            if sent == 0:
                await wait_any(self.wake, stop, timeout=self.idle_s)

    async def send_due(self) -> int:
        """Send every item due now; returns how many were attempted."""
        items = await asyncio.to_thread(self._claim)
        if not items:
            return 0
        await asyncio.gather(*(self._send_one(item_id, outbound) for item_id, outbound in items))
        return len(items)

    def _claim(self) -> list[tuple[int, OutboundMessage]]:
        """Lease the due items that are first in line in their conversation."""
        now = self.clock.now()
        with session_scope(self.engine) as session:
            due = session.exec(self._due, params={"now": now}).all()
            for item in due:
                item.state = "sending"
                item.locked_until = now + LEASE
            named = [item.payload["file"]["id"] for item in due if item.payload.get("file")]
            files = _file_contents(session, named)
            return [
                (item.id, _outbound(item.payload, files)) for item in due if item.id is not None
            ]

    async def _send_one(self, item_id: int, outbound: OutboundMessage) -> None:
        connector = self.connectors.get(outbound.channel)
        if connector is None:
            error: SendError | None = SendError(
                f"channel {outbound.channel} is not configured", retryable=False
            )
            result = None
        else:
            try:
                result, error = await connector.send(outbound), None
            except SendError as exc:
                result, error = None, exc
            except Exception as exc:  # a bug or an unexpected client error: retry, visibly
                log.exception("sending outbox item %s failed unexpectedly", item_id)
                result, error = None, SendError(f"unexpected error: {exc}", retryable=True)
        message = await asyncio.to_thread(self._record, item_id, result, error)
        if message is not None and self.on_change is not None:
            self.on_change(message)

    def _record(
        self, item_id: int, result: SendResult | None, error: SendError | None
    ) -> Message | None:
        """Store the outcome; returns the message when its delivery status changed."""
        now = self.clock.now()
        with session_scope(self.engine) as session:
            item = session.get(OutboxItem, item_id)
            if item is None:  # erased meanwhile (a customer's data deleted)
                return None
            message = session.get(Message, item.message_id)
            item.attempts += 1
            item.locked_until = None
            if result is not None:
                item.state, item.last_error = "sent", None
                if message is not None:
                    external_id = result.external_ids[0] if result.external_ids else None
                    message.sent_at = result.sent_at
                    message.delivery_status = "sent"
                    message.delivery_error = None
                    if external_id is not None:
                        external_id = _claim_external_id(session, message, external_id)
                    message.external_id = external_id
                    if external_id is not None:
                        _apply_early_statuses(session, message, result.external_ids)
                return message
            assert error is not None
            item.last_error = error.reason
            if error.retryable and item.attempts < MAX_ATTEMPTS:
                item.state = "pending"
                item.next_attempt_at = now + timedelta(
                    seconds=backoff_s(item.attempts, error.retry_after)
                )
                log.warning("outbox item %s: %s; retrying", item_id, error.reason)
                return None
            item.state = "failed"
            log.error("outbox item %s failed: %s", item_id, error.reason)
            if message is not None:
                message.delivery_status = "failed"
                message.delivery_error = error.reason
            return message


def _file_contents(session: Session, ids: list[int]) -> dict[int, bytes]:
    if not ids:
        return {}
    rows = session.exec(
        select(MessageFile.id, MessageFile.content).where(col(MessageFile.id).in_(ids))
    )
    return {id_: content for id_, content in rows if id_ is not None}


def _claim_external_id(session: Session, message: Message, external_id: str) -> str | None:
    """The platform's id for our sent ``message``, or None if a customer's message has it.

    The platform's echo of this very message may have been ingested first: ours is kept, the
    echo's status carried over. A customer's message is never an echo: a platform that gave
    our message its id (a reused id) leaves ours without one rather than lose theirs.
    """
    found = find_message(session, message.channel, external_id)
    if found is None or found.id == message.id:
        return external_id
    if found.direction != "out":
        log.error(
            "%s gave sent message %s the id %s of the customer's message %s: kept theirs",
            message.channel,
            message.id,
            external_id,
            found.id,
        )
        return None
    if found.delivery_status is not None:
        apply_status(message, found.delivery_status, found.delivery_error)
    session.delete(found)
    session.flush()
    return external_id


def _apply_early_statuses(session: Session, message: Message, ids: tuple[str, ...]) -> None:
    early = session.exec(
        select(EarlyStatus)
        .where(EarlyStatus.channel == message.channel, col(EarlyStatus.external_id).in_(ids))
        .order_by(col(EarlyStatus.at))
    ).all()
    for status in early:
        apply_status(message, status.status, status.error)
        session.delete(status)


def _due_items(batch: int) -> SelectOfScalar[OutboxItem]:
    """Up to ``batch`` items due at ``:now`` and first in line in their conversation.

    Built once per sender: the aliases built afresh each round (a round runs after every
    batch of deliveries that queued a reply) left reference cycles for the collector.
    """
    now: BindParameter[datetime] = bindparam("now")
    earlier, earlier_message = aliased(OutboxItem), aliased(Message)
    queued_before = exists().where(
        col(earlier.id) < col(OutboxItem.id),
        col(earlier.state).in_(UNFINISHED),
        col(earlier_message.id) == col(earlier.message_id),
        col(earlier_message.conversation_id) == col(Message.conversation_id),
    )
    return (
        select(OutboxItem)
        .join(Message, col(Message.id) == col(OutboxItem.message_id))
        .where(
            col(OutboxItem.state).in_(UNFINISHED),
            col(OutboxItem.next_attempt_at) <= now,
            or_(col(OutboxItem.locked_until).is_(None), col(OutboxItem.locked_until) < now),
            ~queued_before,
        )
        .order_by(col(OutboxItem.next_attempt_at), col(OutboxItem.id))
        .limit(batch)
        .with_for_update(skip_locked=True, of=OutboxItem)  # type: ignore[arg-type]
    )
