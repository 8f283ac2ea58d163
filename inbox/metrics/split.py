"""The KPIs split by a column of the conversations: the figures of each value (an agent,
a channel, a team).

A value's figures are those the whole report gives when filtered by it (``agent=``,
``channel=``, ``team=``): a conversation counts for its assignee, channel or team now, a
survey for the agent assigned (its channel) when it was asked, or its conversation's team
now. One pass over the period, whatever the number of values.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import and_, distinct, func
from sqlalchemy import case as sql_case
from sqlmodel import Session, col, select

from sportello.inbox.metrics.alongside import read_alongside
from sportello.inbox.metrics.filters import messages_in_period, opened_in_period, survey_filters
from sportello.inbox.metrics.query import KpiQuery
from sportello.inbox.metrics.survey_scores import survey_figures
from sportello.inbox.metrics.times import Group, no_time_figures, time_figures
from sportello.inbox.models import Conversation, Message
from sportello.inbox.survey_tables import Survey

T = TypeVar("T")
NO_VOLUMES = {
    "conversations": 0,
    "new_conversations": 0,
    "messages_in": 0,
    "messages_out": 0,
    "messages_out_agent": 0,
    "messages_out_bot": 0,
}


@dataclass(frozen=True)
class Split:
    """What a report is split by: a column of the conversations and the surveys' same."""

    conversations: Any  # Conversation.assignee, Conversation.channel, Conversation.team
    surveys: Any  # Survey.assignee, Survey.channel, or a survey's conversation's team


@dataclass(frozen=True)
class SplitFigures:
    """The figures of each value found in the period."""

    query: KpiQuery
    timing: dict[Group, dict[str, Any]]
    volumes: dict[Group, dict[str, int]]
    surveys: dict[Group, list[tuple[str, int | None]]]

    def found(self) -> set[Group]:
        return {*self.timing, *self.volumes, *self.surveys}

    def row(self, value: Group) -> dict[str, Any]:
        """The figures of ``value``: those of the whole report filtered by it."""
        return {
            **self.volumes.get(value, NO_VOLUMES),
            **(self.timing.get(value) or no_time_figures(self.query)),
            **survey_figures(self.surveys.get(value, [])),
        }


def split_figures(
    session: Session,
    query: KpiQuery,
    split: Split,
    aside: Callable[[Session], T],
) -> tuple[SplitFigures, T]:
    """The figures per value, the time figures read in one snapshot while the aggregates,
    and ``aside(session)`` with them, run beside (``alongside.py``)."""
    timing, (volumes, surveys, extra) = read_alongside(
        session,
        lambda connection: time_figures(connection, query, by=split.conversations),
        lambda other: (_volumes(other, query, split), _surveys(other, query, split), aside(other)),
    )
    return SplitFigures(query, timing, volumes, surveys), extra


def _volumes(session: Session, query: KpiQuery, split: Split) -> dict[Group, dict[str, int]]:
    """Messages and conversations by their conversation's value."""
    value = split.conversations
    inbound = col(Message.direction) == "in"
    by_bot = and_(col(Message.direction) != "in", col(Message.author) == "bot")
    rows = session.exec(
        select(  # type: ignore[call-overload]  # sqlmodel types four columns at most
            value,
            func.count(distinct(col(Message.conversation_id))),
            func.count(),
            func.sum(sql_case((inbound, 1), else_=0)),
            func.sum(sql_case((by_bot, 1), else_=0)),
        )
        .join(Conversation, col(Conversation.id) == col(Message.conversation_id))
        .where(*messages_in_period(query))
        .group_by(value)
    ).all()
    volumes: dict[Group, dict[str, int]] = defaultdict(lambda: dict(NO_VOLUMES))
    for group, conversations, messages, messages_in, bot in rows:
        out = int(messages) - int(messages_in)
        volumes[group].update(
            conversations=int(conversations),
            messages_in=int(messages_in),
            messages_out=out,
            messages_out_agent=out - int(bot),
            messages_out_bot=int(bot),
        )
    opened = session.exec(
        select(value, func.count()).where(*opened_in_period(query)).group_by(value)
    ).all()
    for group, count in opened:
        volumes[group]["new_conversations"] = int(count)
    return dict(volumes)


def _surveys(
    session: Session, query: KpiQuery, split: Split
) -> dict[Group, list[tuple[str, int | None]]]:
    answers: dict[Group, list[tuple[str, int | None]]] = defaultdict(list)
    rows = session.exec(
        select(split.surveys, Survey.kind, Survey.score).where(*survey_filters(query))
    )
    for group, kind, score in rows:
        answers[group].append((kind, score))
    return dict(answers)
