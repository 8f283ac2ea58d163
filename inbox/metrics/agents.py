"""The KPIs split by agent: one row per agent, and one for unassigned conversations.

A row holds the figures the whole report gives when filtered by that agent (``agent=``):
a conversation counts for its assignee now, surveys for the agent assigned when they were
asked. ``replies_sent`` counts instead who sent each reply from the inbox, whoever is
assigned. One pass over the period, whatever the number of agents.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from typing import Any

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
from sportello.inbox.users import User


def compute_agent_kpis(session: Session, query: KpiQuery) -> dict[str, Any]:
    """The rows for ``query``, as the JSON of ``GET /api/v1/reports/agents``: every user
    and whoever else is assigned or sent replies, by name, then the unassigned (``null``);
    with ``query.agent``, that agent's row only, the same as in the list of all."""
    timing, (volumes, surveys, replies_sent) = read_alongside(
        session,
        lambda connection: time_figures(connection, query, by_agent=True),
        lambda aside: (
            _volumes(aside, query),
            _surveys(aside, query),
            _replies_sent(aside, query),
        ),
    )
    agents: list[Group]
    if query.agent is not None:
        agents = [query.agent]
    else:
        users = session.exec(select(User.name)).all()
        named = {*users, *timing, *volumes, *surveys, *replies_sent}
        agents = [*sorted(name for name in named if name is not None), None]
    rows = []
    for agent in agents:
        rows.append(
            {
                "agent": agent,
                **volumes.get(agent, _NO_VOLUMES),
                "replies_sent": replies_sent.get(agent, 0) if agent is not None else None,
                **(timing.get(agent) or no_time_figures(query)),
                **survey_figures(surveys.get(agent, [])),
            }
        )
    return {
        "from": query.start.isoformat(),
        "to": query.end.isoformat(),
        "timezone": str(query.calendar.tz),
        "business_time": query.business_time,
        "filters": {"channel": query.channel, "agent": query.agent, "tag": query.tag},
        "agents": rows,
    }


_NO_VOLUMES = {
    "conversations": 0,
    "new_conversations": 0,
    "messages_in": 0,
    "messages_out": 0,
    "messages_out_agent": 0,
    "messages_out_bot": 0,
}


def _volumes(session: Session, query: KpiQuery) -> dict[Group, dict[str, int]]:
    """Messages and conversations by the assignee of their conversation."""
    assignee = col(Conversation.assignee)
    inbound = col(Message.direction) == "in"
    by_bot = and_(col(Message.direction) != "in", col(Message.author) == "bot")
    rows = session.exec(
        select(  # type: ignore[call-overload]  # sqlmodel types four columns at most
            assignee,
            func.count(distinct(col(Message.conversation_id))),
            func.count(),
            func.sum(sql_case((inbound, 1), else_=0)),
            func.sum(sql_case((by_bot, 1), else_=0)),
        )
        .join(Conversation, col(Conversation.id) == col(Message.conversation_id))
        .where(*messages_in_period(query))
        .group_by(assignee)
    ).all()
    volumes: dict[Group, dict[str, int]] = defaultdict(lambda: dict(_NO_VOLUMES))
    for agent, conversations, messages, messages_in, bot in rows:
        out = int(messages) - int(messages_in)
        volumes[agent].update(
            conversations=int(conversations),
            messages_in=int(messages_in),
            messages_out=out,
            messages_out_agent=out - int(bot),
            messages_out_bot=int(bot),
        )
    opened = session.exec(
        select(assignee, func.count()).where(*opened_in_period(query)).group_by(assignee)
    ).all()
    for agent, count in opened:
        volumes[agent]["new_conversations"] = int(count)
    return dict(volumes)


def _surveys(session: Session, query: KpiQuery) -> dict[Group, list[tuple[str, int | None]]]:
    answers: dict[Group, list[tuple[str, int | None]]] = defaultdict(list)
    rows = session.exec(
        select(Survey.assignee, Survey.kind, Survey.score).where(*survey_filters(query))
    )
    for agent, kind, score in rows:
        answers[agent].append((kind, score))
    return dict(answers)


def _replies_sent(session: Session, query: KpiQuery) -> dict[str, int]:
    """Replies each agent sent from the inbox in the period, in anyone's conversations."""
    sender = col(Message.sent_by)
    rows = session.exec(
        select(sender, func.count())
        .where(
            sender.is_not(None) if query.agent is None else sender == query.agent,
            *messages_in_period(replace(query, agent=None)),
        )
        .group_by(sender)
    ).all()
    return {name: int(count) for name, count in rows if name is not None}
