"""Answered conversations the customer has let go quiet are resolved by themselves.

With ``[auto_resolve] after = "3d"``, an open or pending conversation in which the customer
waits for nothing (our answer had the last word: ``waiting_since`` is unset) and where
nothing has been said for that long is resolved, recorded as by ``auto-resolve``. One
where the customer waits for us is never resolved this way: it stays in the backlog and
its SLA keeps running. The customer's next message reopens it, as after any resolution,
and no satisfaction survey is asked after it (the customer had gone quiet).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from sportello.inbox.conversations import set_status
from sportello.inbox.models import Conversation
from sportello.inbox.sla import ACTIVE

ACTOR = "auto-resolve"
PART = 50  # conversations resolved per transaction


def resolve_quiet(
    session: Session, now: datetime, after: timedelta, limit: int = PART
) -> list[int]:
    """Resolve up to ``limit`` quiet, answered conversations, the quietest first; their ids."""
    quiet = session.exec(
        select(Conversation)
        .where(
            col(Conversation.status).in_(ACTIVE),
            col(Conversation.waiting_since).is_(None),
            col(Conversation.last_message_at) < now - after,
        )
        .order_by(col(Conversation.last_message_at), col(Conversation.id))
        .limit(limit)
    ).all()
    for conversation in quiet:
        set_status(session, conversation, "resolved", now, ACTOR)
    session.flush()
    return [c.id for c in quiet if c.id is not None]
