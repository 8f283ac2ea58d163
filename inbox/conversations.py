"""Finding, opening and changing the state of conversations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from sportello.connectors.base import Thread
from sportello.inbox.lookups import Lookups
from sportello.inbox.models import Conversation, ConversationEvent, before_write
from sportello.inbox.new_row import new_row
from sportello.inbox.numbered_rows import add_new

STATUSES = ("open", "pending", "snoozed", "resolved")


def find_or_open(
    session: Session,
    known: Lookups,
    *,
    channel: str,
    thread: Thread,
    customer_id: int,
    recipient_external_id: str,
    at: datetime,
) -> Conversation:
    """The conversation of ``thread`` (among ``known``), opened if it is new."""
    conversation = known.conversation(channel, thread.external_id)
    if conversation is not None:
        if thread.title and conversation.title != thread.title:
            conversation.title = thread.title
        return conversation
    conversation = new_row(
        Conversation,
        channel=channel,
        thread_external_id=thread.external_id,
        customer_id=customer_id,
        recipient_external_id=recipient_external_id,
        title=thread.title,
        is_group=thread.is_group,
        public=thread.public,
        opened_at=at,
    )
    before_write(conversation)  # an insert at once runs no mapper event
    add_new(session, conversation, known.reserved)
    known.add_conversation(conversation)
    record(session, conversation, "opened", at)
    return conversation


def record(
    session: Session,
    conversation: Conversation,
    kind: str,
    at: datetime,
    actor: str | None = None,
    **data: Any,
) -> None:
    assert conversation.id is not None
    session.add(
        new_row(
            ConversationEvent,
            conversation_id=conversation.id,
            kind=kind,
            at=at,
            actor=actor,
            data=data,
        )
    )


def set_status(
    session: Session,
    conversation: Conversation,
    status: str,
    at: datetime,
    actor: str | None = None,
    snoozed_until: datetime | None = None,
) -> None:
    """Move a conversation to ``status``, recording the change."""
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}; expected one of {', '.join(STATUSES)}")
    if status == "snoozed" and snoozed_until is None:
        raise ValueError("a snoozed conversation needs snoozed_until")
    previous = conversation.status
    conversation.status = status
    conversation.snoozed_until = snoozed_until if status == "snoozed" else None
    if status == "resolved":
        conversation.resolved_at = at
        conversation.waiting_since = None
    if previous != status:
        until = conversation.snoozed_until
        more = {"until": until.isoformat()} if until is not None else {}
        record(session, conversation, status, at, actor, previous=previous, **more)


def wake_snoozed(session: Session, now: datetime) -> int:
    """Reopen every snoozed conversation whose ``snoozed_until`` has come; returns how many.

    Idempotent: a second run at the same time finds nothing left to wake.
    """
    due = session.exec(
        select(Conversation).where(
            Conversation.status == "snoozed",
            Conversation.snoozed_until <= now,  # type: ignore[operator]
        )
    ).all()
    for conversation in due:
        set_status(session, conversation, "open", now, "scheduler")
    session.flush()
    return len(due)


def note_customer_message(
    session: Session, conversation: Conversation, at: datetime, *, needs_reply: bool = True
) -> None:
    """A customer wrote: the clock of waiting starts, a closed conversation comes back.

    A message that needs no reply (an answer to a satisfaction survey) only moves the
    last-message times (it still opens the platform's messaging window).
    """
    conversation.last_message_at = max_time(conversation.last_message_at, at)
    conversation.last_customer_message_at = max_time(conversation.last_customer_message_at, at)
    if not needs_reply:
        return
    if conversation.waiting_since is None:
        conversation.waiting_since = at
    if conversation.status in ("resolved", "snoozed", "pending"):
        event = "reopened" if conversation.status == "resolved" else "open"
        previous = conversation.status
        conversation.status = "open"
        conversation.snoozed_until = None
        record(session, conversation, event, at, previous=previous)


def note_agent_message(conversation: Conversation, at: datetime) -> None:
    """A human answered (from sportello or from the platform's own app)."""
    conversation.last_message_at = max_time(conversation.last_message_at, at)
    conversation.last_agent_message_at = max_time(conversation.last_agent_message_at, at)
    if conversation.first_response_at is None:
        conversation.first_response_at = at
    conversation.waiting_since = None


def max_time(current: datetime | None, new: datetime) -> datetime:
    return new if current is None or new > current else current
