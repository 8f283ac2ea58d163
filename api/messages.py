"""``/api/v1/messages``: every stored message, newest first."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy import and_, or_
from sqlmodel import col, select

from sportello.api.deps import Caller, SessionDep
from sportello.api.inputs import RowId
from sportello.api.pagination import MAX_LIMIT, BeforeTime, decode_cursor, encode_cursor
from sportello.api.schemas import MessageOut, Page
from sportello.api.views import message_out
from sportello.inbox.models import Message

router = APIRouter(prefix="/api/v1", tags=["messages"])


@router.get("/messages")
def list_messages(
    session: SessionDep,
    _: Caller,
    channel: str | None = None,
    direction: Literal["in", "out"] | None = None,
    external_id: str | None = None,
    conversation_id: RowId | None = None,
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
    position = decode_cursor(cursor, BeforeTime)
    if position is not None:
        at = position.t
        query = query.where(
            or_(
                col(Message.sent_at) < at,
                and_(col(Message.sent_at) == at, col(Message.id) < position.id),
            )
        )
    query = query.order_by(Message.sent_at.desc(), Message.id.desc()).limit(limit + 1)  # type: ignore[attr-defined,union-attr]
    rows = list(session.exec(query))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(BeforeTime.of(last.sent_at, last.id))
    return Page(items=[message_out(m) for m in rows], next_cursor=next_cursor)
