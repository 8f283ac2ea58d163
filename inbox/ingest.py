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
from sportello.inbox.lookups import Lookups
from sportello.inbox.models import Conversation, EarlyStatus, Message
from sportello.inbox.new_row import new_row
from sportello.inbox.survey_replies import awaits_comment, is_survey_reply

log = logging.getLogger(__name__)

_STATUS_RANK = {"queued": 0, "sent": 1, "delivered": 2, "read": 3}


class Scored(Protocol):
    @property
    def compound(self) -> float: ...
    @property
    def label(self) -> str: ...
    @property
    def language(self) -> str: ...


Scorer = Callable[[str], Scored | None]


@dataclass
class Ingested:
    """What one delivery changed, handed to the automation hooks."""

    new_messages: list[tuple[Message, Conversation]] = field(default_factory=list)
    edited: list[Message] = field(default_factory=list)
    statuses: int = 0
    ignored: list[Ignored] = field(default_factory=list)
    duplicates: int = 0
    queued_replies: bool = False  # automation queued outbound messages (set by the worker)
    assigned: list[tuple[int, str]] = field(default_factory=list)  # by a triage rule: (id, agent)


def ingest(
    session: Session,
    events: Iterable[Event],
    *,
    now: datetime,
    scorer: Scorer | None = None,
    lookups: Lookups | None = None,
) -> Ingested:
    """Store ``events``; ``lookups`` (read for a whole batch by the caller) saves the
    per-event queries for stored messages, identities and conversations."""
    events = list(events)
    known = lookups if lookups is not None else Lookups.read(session, events)
    result = Ingested()
    for item in events:
        if isinstance(item, InboundMessage):
            stored = _ingest_message(session, item, now, scorer, known)
            if stored is None:
                result.duplicates += 1
            else:
                result.new_messages.append(stored)
        elif isinstance(item, MessageEdited):
            edited = _apply_edit(item, scorer, known)
            if edited is not None:
                result.edited.append(edited)
        elif isinstance(item, StatusUpdate):
            result.statuses += _apply_status(session, item, known)
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
    session: Session,
    event: InboundMessage,
    now: datetime,
    scorer: Scorer | None,
    known: Lookups,
) -> tuple[Message, Conversation] | None:
    if known.message(event.channel, event.external_id) is not None:
        return None
    identity = resolve_identity(session, event.channel, event.customer, now, known)
    for contact in event.shared_contacts:
        link_shared_contact(session, identity, contact, now, known)
    conversation = _replied_conversation(session, event, known) or find_or_open(
        session,
        known,
        channel=event.channel,
        thread=event.thread,
        customer_id=identity.customer_id,
        recipient_external_id=event.customer.external_id,
        at=event.sent_at,
    )
    assert conversation.id is not None
    inbound = event.direction == "in"
    sentiment = _sentiment(event.text, scorer) if inbound else {}
    message = new_row(
        Message,
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
        **sentiment,
    )
    if inbound:
        if sentiment:
            _note_sentiment(conversation, sentiment["sentiment_compound"])
        survey_reply = awaits_comment(conversation, event.text, event.sent_at) or is_survey_reply(
            session, conversation.id, event.text, event.button_payload, event.sent_at
        )
        note_customer_message(session, conversation, event.sent_at, needs_reply=not survey_reply)
    else:
        note_agent_message(conversation, event.sent_at)
    session.add(message)
    known.add_message(message)
    return message, conversation


def _replied_conversation(
    session: Session, event: InboundMessage, known: Lookups
) -> Conversation | None:
    """The conversation of the stored message this one answers, when its thread is not known.

    Platforms that name no thread for a reply (X Account Activity tweets) still keep a
    reply in the conversation it continues.
    """
    if event.reply_to_external_id is None:
        return None
    if known.conversation(event.channel, event.thread.external_id) is not None:
        return None
    replied = known.message(event.channel, event.reply_to_external_id) or find_message(
        session, event.channel, event.reply_to_external_id
    )
    return session.get(Conversation, replied.conversation_id) if replied is not None else None


def _attachment_json(attachment: Any) -> dict[str, Any]:
    data = asdict(attachment)
    data["extra"] = dict(data["extra"])
    return {k: v for k, v in data.items() if v not in (None, {})}


def _sentiment(text: str, scorer: Scorer | None) -> dict[str, Any]:
    """A customer message's sentiment columns for ``text``; none when nothing scores it."""
    scored = scorer(text) if scorer is not None and text.strip() else None
    if scored is None:
        return {}
    return {
        "sentiment_compound": scored.compound,
        "sentiment_label": scored.label,
        "sentiment_language": scored.language,
    }


def _note_sentiment(conversation: Conversation, compound: float) -> None:
    conversation.latest_sentiment = compound
    if conversation.worst_sentiment is None or compound < conversation.worst_sentiment:
        conversation.worst_sentiment = compound


def _apply_edit(event: MessageEdited, scorer: Scorer | None, known: Lookups) -> Message | None:
    message = known.message(event.channel, event.external_id)
    if message is None:
        log.info("edit of unknown %s message %s", event.channel, event.external_id)
        return None
    message.text = event.text
    message.edited_at = event.edited_at
    if message.direction == "in" and not message.sentiment_corrected:
        for column, value in _sentiment(event.text, scorer).items():
            setattr(message, column, value)
    return message


def _apply_status(session: Session, event: StatusUpdate, known: Lookups) -> int:
    message = known.message(event.channel, event.external_id)
    if message is None:
        # The platform may report on our message before the outbox has stored the id the
        # send returned: keep the word until then (``outbox`` applies it).
        session.add(
            EarlyStatus(
                channel=event.channel,
                external_id=event.external_id,
                status=event.status,
                error=event.error,
                at=event.at,
            )
        )
        return 0
    apply_status(message, event.status, event.error)
    return 1


def apply_status(message: Message, status: str, error: str | None = None) -> None:
    """Move a message's delivery status forward (never back); a failure always wins."""
    if status == "failed":
        message.delivery_status = "failed"
        message.delivery_error = error
    elif _STATUS_RANK.get(status, 0) > _STATUS_RANK.get(message.delivery_status or "", -1):
        message.delivery_status = status


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
