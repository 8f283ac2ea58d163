"""A customer's messages across every channel and conversation, newest first."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CompoundSelect, and_, or_, union
from sqlmodel import Session, col, select

from sportello.inbox.models import Conversation, Message


def customer_timeline(
    session: Session,
    customer_id: int,
    *,
    limit: int = 50,
    before: tuple[datetime, int] | None = None,
) -> list[Message]:
    """Messages of the customer's own conversations plus what they wrote in groups.

    In a group conversation only the customer's own messages belong to their timeline.
    ``before`` is the ``(sent_at, id)`` of the last message of the previous page.
    """
    own = select(Conversation.id).where(
        Conversation.customer_id == customer_id, col(Conversation.is_group).is_(False)
    )
    # A union of two index lookups (by customer, by conversation): with an OR in one WHERE,
    # PostgreSQL walks the whole sent_at index backwards filtering every message.
    ids: CompoundSelect[int] = union(
        select(Message.id).where(Message.customer_id == customer_id),
        select(Message.id).where(col(Message.conversation_id).in_(own)),
    )
    query = select(Message).where(col(Message.id).in_(ids))
    if before is not None:
        at, last_id = before
        query = query.where(
            or_(
                col(Message.sent_at) < at,
                and_(col(Message.sent_at) == at, col(Message.id) < last_id),
            )
        )
    query = query.order_by(col(Message.sent_at).desc(), col(Message.id).desc()).limit(limit)
    return list(session.exec(query))
