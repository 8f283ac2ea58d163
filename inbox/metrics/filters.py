"""The report's period and filters (channel, agent, tag, team) as SQL conditions on each
table it reads."""

from __future__ import annotations

from sqlalchemy import ColumnElement
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from sportello.inbox.metrics.query import KpiQuery
from sportello.inbox.models import Conversation, ConversationTag, Message
from sportello.inbox.survey_tables import Survey


def conversation_filters(query: KpiQuery, *, channel: bool = True) -> list[ColumnElement[bool]]:
    filters: list[ColumnElement[bool]] = []
    if channel and query.channel is not None:
        filters.append(col(Conversation.channel) == query.channel)
    if query.agent is not None:
        filters.append(col(Conversation.assignee) == query.agent)
    if query.tag is not None:
        filters.append(col(Conversation.id).in_(_tagged(query.tag)))
    if query.team is not None:
        filters.append(col(Conversation.team) == query.team)
    return filters


def message_filters(query: KpiQuery) -> list[ColumnElement[bool]]:
    """Filters on ``messages``; the agent, tag and team ones through its conversation."""
    filters: list[ColumnElement[bool]] = []
    if query.channel is not None:
        filters.append(col(Message.channel) == query.channel)
    if query.agent is not None or query.tag is not None or query.team is not None:
        conversations = select(Conversation.id).where(*conversation_filters(query, channel=False))
        filters.append(col(Message.conversation_id).in_(conversations))
    return filters


def messages_in_period(query: KpiQuery) -> list[ColumnElement[bool]]:
    """The messages sent in the period that the filters keep."""
    return [
        col(Message.sent_at) >= query.start,
        col(Message.sent_at) < query.end,
        *message_filters(query),
    ]


def opened_in_period(query: KpiQuery) -> list[ColumnElement[bool]]:
    """The conversations opened in the period that the filters keep."""
    return [
        col(Conversation.opened_at) >= query.start,
        col(Conversation.opened_at) < query.end,
        *conversation_filters(query),
    ]


def survey_filters(query: KpiQuery) -> list[ColumnElement[bool]]:
    """The surveys asked in the period; the agent is the one assigned when it was asked."""
    filters: list[ColumnElement[bool]] = [
        col(Survey.asked_at) >= query.start,
        col(Survey.asked_at) < query.end,
    ]
    if query.channel is not None:
        filters.append(col(Survey.channel) == query.channel)
    if query.agent is not None:
        filters.append(col(Survey.assignee) == query.agent)
    if query.tag is not None:
        filters.append(col(Survey.conversation_id).in_(_tagged(query.tag)))
    if query.team is not None:
        teamed = select(Conversation.id).where(col(Conversation.team) == query.team)
        filters.append(col(Survey.conversation_id).in_(teamed))
    return filters


def _tagged(tag: str) -> SelectOfScalar[int]:
    return select(ConversationTag.conversation_id).where(ConversationTag.tag == tag)
