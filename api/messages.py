"""``/api/v1/messages``: every stored message, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy import and_, or_
from sqlmodel import col, select

from sportello.api.deps import Caller, SessionDep
from sportello.api.pagination import MAX_LIMIT, decode_cursor, encode_cursor
from sportello.api.schemas import MessageOut, Page
from sportello.api.views import message_out
from sportello.inbox.clock import ensure_utc
from sportello.inbox.models import Message

router = APIRouter(prefix="/api/v1", tags=["messages"])


@router.get("/messages")
def list_messages(
    session: SessionDep,
    _: Caller,
    channel: str | None = None,
    direction: Literal["in", "out"] | None = None,
    external_id: str | None = None,
    conversation_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: str | None = None,
) -> Page[MessageOut]:
    query = select(Message)
    for column, value in (
        (Message.channel, channel),
        (Message.direction, direction),
        (Message.external_id, external_id),
        (Message.conversation_id, conversation_id),
    ):
        if value is not None:
            query = query.where(column == value)
    position = decode_cursor(cursor)
    if position is not None:
        at = ensure_utc(datetime.fromisoformat(position["t"]))
        query = query.where(
            or_(
                col(Message.sent_at) < at,
                and_(col(Message.sent_at) == at, col(Message.id) < position["id"]),
            )
        )
    query = query.order_by(Message.sent_at.desc(), Message.id.desc()).limit(limit + 1)  # type: ignore[attr-defined,union-attr]
    rows = list(session.exec(query))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor({"t": last.sent_at.isoformat(), "id": last.id})
    return Page(items=[message_out(m) for m in rows], next_cursor=next_cursor)
