"""Conversations' histories read in bulk and walked into timelines (``timeline.walk``).

Two queries whatever the number of conversations: the status events read into memory first
(a few per conversation), then the messages streamed in conversation order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import datetime
from itertools import groupby
from operator import itemgetter
from typing import Any

from sqlalchemy import ColumnElement, Float, cast, func, or_
from sqlalchemy.engine import Connection
from sqlmodel import col, select

from sportello.inbox.metrics.timeline import Item, Timeline, event_item, message_item, walk
from sportello.inbox.models import ConversationEvent, Message
from sportello.inbox.survey_tables import SurveyResponse

STATUS_EVENTS = ("opened", "reopened", "open", "pending", "snoozed", "resolved")
_STREAM_BATCH = 5000


def epoch(dialect: str, column: Any) -> Any:
    """A timestamp column as POSIX seconds (float), in SQL."""
    if dialect == "sqlite":
        # whole seconds, plus the stored microseconds ("YYYY-MM-DD HH:MM:SS.ffffff")
        seconds = cast(func.strftime("%s", column), Float)
        return seconds + func.coalesce(cast(func.substr(column, 20), Float), 0.0)
    return cast(func.extract("epoch", column), Float)


def walk_histories(
    connection: Connection,
    conversations: Sequence[int],
    horizon: datetime | None = None,
) -> Iterator[Timeline]:
    """The timeline of each of ``conversations`` (ids) that has any history, from what
    happened before ``horizon`` (everything when None).

    Automatic messages, survey replies and messages that failed to reach the customer are
    not read: the walk leaves them out.
    """
    dialect = connection.dialect.name
    event_filters: list[ColumnElement[bool]] = [
        col(ConversationEvent.conversation_id).in_(conversations),
        col(ConversationEvent.kind).in_(STATUS_EVENTS),
    ]
    message_filters: list[ColumnElement[bool]] = [
        col(Message.conversation_id).in_(conversations),
        col(Message.author) != "bot",
        col(SurveyResponse.message_id).is_(None),
        or_(col(Message.delivery_status).is_(None), col(Message.delivery_status) != "failed"),
    ]
    if horizon is not None:
        event_filters.append(col(ConversationEvent.at) < horizon)
        message_filters.append(col(Message.sent_at) < horizon)
    events: dict[int, list[Item]] = defaultdict(list)
    for conversation_id, at, kind in connection.execute(
        select(
            ConversationEvent.conversation_id,
            epoch(dialect, ConversationEvent.at),
            ConversationEvent.kind,
        )
        .where(*event_filters)
        .order_by(
            col(ConversationEvent.conversation_id),
            col(ConversationEvent.at),
            col(ConversationEvent.id),
        )
    ):
        events[conversation_id].append(event_item(at, kind))
    messages = connection.execute(
        select(Message.conversation_id, epoch(dialect, Message.sent_at), Message.direction)
        .outerjoin(SurveyResponse, col(SurveyResponse.message_id) == col(Message.id))
        .where(*message_filters)
        .order_by(col(Message.conversation_id), col(Message.sent_at), col(Message.id))
        .execution_options(yield_per=_STREAM_BATCH)
    )
    for conversation_id, rows in groupby(messages, key=itemgetter(0)):
        items = [message_item(at, direction == "in") for _, at, direction in rows]
        yield walk(conversation_id, items, events.pop(conversation_id, ()))
    for conversation_id, only_events in events.items():
        yield walk(conversation_id, [], only_events)
