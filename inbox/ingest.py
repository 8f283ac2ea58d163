"""Normalized events into the inbox: dedup, identity, conversation, message, score."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlmodel import Session, select

from sportello.connectors.base import (
    Event,
    Ignored,
    InboundMessage,
    MessageEdited,
    StatusUpdate,
    StatusWatermark,
)
from sportello.inbox.conversations import find_or_open, note_agent_message, note_customer_message
from sportello.inbox.identity import link_shared_contact, resolve_identity
from sportello.inbox.models import Conversation, Message

log = logging.getLogger(__name__)

_STATUS_RANK = {"queued": 0, "sent": 1, "delivered": 2, "read": 3}


class Scored(Protocol):
    compound: float
    label: str
    language: str


Scorer = Callable[[str], Scored | None]


@dataclass
class Ingested:
    """What one delivery changed, handed to the automation hooks."""

    new_messages: list[tuple[Message, Conversation]] = field(default_factory=list)
    edited: list[Message] = field(default_factory=list)
    statuses: int = 0
    ignored: list[Ignored] = field(default_factory=list)
    duplicates: int = 0


def ingest(
    session: Session, events: Iterable[Event], *, now: datetime, scorer: Scorer | None = None
) -> Ingested:
    result = Ingested()
    for item in events:
        if isinstance(item, InboundMessage):
            stored = _ingest_message(session, item, now, scorer)
            if stored is None:
                result.duplicates += 1
            else:
                result.new_messages.append(stored)
        elif isinstance(item, MessageEdited):
            edited = _apply_edit(session, item, scorer)
            if edited is not None:
                result.edited.append(edited)
        elif isinstance(item, StatusUpdate):
            result.statuses += _apply_status(session, item)
        elif isinstance(item, StatusWatermark):
            result.statuses += _apply_watermark(session, item)
        elif isinstance(item, Ignored):
            log.debug("ignored %s event: %s", item.kind, item.reason)
            result.ignored.append(item)
    return result


def find_message(session: Session, channel: str, external_id: str) -> Message | None:
    return session.exec(
        select(Message).where(Message.channel == channel, Message.external_id == external_id)
    ).first()


def _ingest_message(
    session: Session, event: InboundMessage, now: datetime, scorer: Scorer | None
) -> tuple[Message, Conversation] | None:
    if find_message(session, event.channel, event.external_id) is not None:
        return None
    identity = resolve_identity(session, event.channel, event.customer, now)
    for contact in event.shared_contacts:
        link_shared_contact(session, identity, contact)
    conversation = find_or_open(
        session,
        channel=event.channel,
        thread=event.thread,
        customer_id=identity.customer_id,
        recipient_external_id=event.customer.external_id,
        at=event.sent_at,
    )
    assert conversation.id is not None
    inbound = event.direction == "in"
    message = Message(
        conversation_id=conversation.id,
        customer_id=identity.customer_id,
        identity_id=identity.id,
        channel=event.channel,
        direction=event.direction,
        author="customer" if inbound else "agent",
        kind=event.kind,
        external_id=event.external_id,
        reply_to_external_id=event.reply_to_external_id,
        text=event.text,
        attachments=[_attachment_json(a) for a in event.attachments],
        sent_at=event.sent_at,
        received_at=now,
        button_payload=event.button_payload,
        delivery_status=None if inbound else "sent",
    )
    if inbound:
        _score(message, conversation, scorer)
        note_customer_message(session, conversation, event.sent_at)
    else:
        note_agent_message(conversation, event.sent_at)
    session.add(message)
    session.flush()
    return message, conversation


def _attachment_json(attachment: Any) -> dict[str, Any]:
    data = asdict(attachment)
    data["extra"] = dict(data["extra"])
    return {k: v for k, v in data.items() if v not in (None, {})}


def _score(message: Message, conversation: Conversation | None, scorer: Scorer | None) -> None:
    if scorer is None or message.sentiment_corrected or not message.text.strip():
        return
    scored = scorer(message.text)
    if scored is None:
        return
    message.sentiment_compound = scored.compound
    message.sentiment_label = scored.label
    message.sentiment_language = scored.language
    if conversation is not None:
        conversation.latest_sentiment = scored.compound
        if conversation.worst_sentiment is None or scored.compound < conversation.worst_sentiment:
            conversation.worst_sentiment = scored.compound


def _apply_edit(session: Session, event: MessageEdited, scorer: Scorer | None) -> Message | None:
    message = find_message(session, event.channel, event.external_id)
    if message is None:
        log.info("edit of unknown %s message %s", event.channel, event.external_id)
        return None
    message.text = event.text
    message.edited_at = event.edited_at
    if message.direction == "in":
        _score(message, None, scorer)
    return message


def _apply_status(session: Session, event: StatusUpdate) -> int:
    message = find_message(session, event.channel, event.external_id)
    if message is None:
        return 0
    if event.status == "failed":
        message.delivery_status = "failed"
        message.delivery_error = event.error
    elif _STATUS_RANK.get(event.status, 0) > _STATUS_RANK.get(message.delivery_status or "", -1):
        message.delivery_status = event.status
    return 1


def _apply_watermark(session: Session, event: StatusWatermark) -> int:
    """Raise every sent outbound message of the thread up to the watermark to its status."""
    conversation = session.exec(
        select(Conversation).where(
            Conversation.channel == event.channel,
            Conversation.thread_external_id == event.thread_external_id,
        )
    ).first()
    if conversation is None:
        return 0
    lower = [s for s, rank in _STATUS_RANK.items() if 0 < rank < _STATUS_RANK[event.status]]
    messages = session.exec(
        select(Message).where(
            Message.conversation_id == conversation.id,
            Message.direction == "out",
            Message.sent_at <= event.up_to,
            Message.delivery_status.in_(lower),  # type: ignore[union-attr]
        )
    ).all()
    for message in messages:
        message.delivery_status = event.status
    return len(messages)
