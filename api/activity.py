"""``GET /api/v1/conversations/{id}/events``: a conversation's history, who did what and when.

Opened, assigned (by whom, to whom), status changes, priority and tag changes, the triage
rules that applied: the inbox shows them among the messages, and an audit reads them here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlmodel import col, select

from sportello.api.conversations import get_conversation
from sportello.api.deps import Caller, SessionDep
from sportello.api.inputs import RowId
from sportello.api.pagination import MAX_LIMIT, Offset, encode_cursor, offset_of
from sportello.api.schemas import Page
from sportello.inbox.clock import ensure_utc
from sportello.inbox.models import ConversationEvent

router = APIRouter(prefix="/api/v1/conversations", tags=["conversations"])


class ConversationEventOut(BaseModel):
    id: int
    kind: str
    at: datetime
    actor: str | None
    data: dict[str, Any]


@router.get("/{conversation_id}/events")
def conversation_events(
    conversation_id: RowId,
    session: SessionDep,
    _: Caller,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    cursor: str | None = None,
) -> Page[ConversationEventOut]:
    """The conversation's events, oldest first: ``kind`` (``opened``, ``assigned``,
    ``resolved``, ``reopened``, ``open``, ``pending``, ``snoozed``, ``priority``,
    ``tagged``, ``rule``), ``actor`` (a user, ``assignment``, ``rules``, ``rule:<name>``,
    ``auto-resolve``, ``scheduler``; null: the customer) and ``data``."""
    get_conversation(session, conversation_id)
    after = offset_of(cursor)
    rows = session.exec(
        select(ConversationEvent)
        .where(ConversationEvent.conversation_id == conversation_id)
        .order_by(col(ConversationEvent.at), col(ConversationEvent.id))
        .offset(after)
        .limit(limit + 1)
    ).all()
    items = [
        ConversationEventOut(id=row.id or 0, kind=row.kind, at=ensure_utc(row.at),
                             actor=row.actor, data=row.data or {})
        for row in rows[:limit]
    ]  # fmt: skip
    more = encode_cursor(Offset(offset=after + limit)) if len(rows) > limit else None
    return Page(items=items, next_cursor=more)
