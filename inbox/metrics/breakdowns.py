"""The KPIs split by agent, by channel and by team (``split.py``).

By agent: a row per user and per anyone else assigned or sending replies, by name, then
the unassigned conversations (``null``). ``replies_sent`` counts who sent each reply from
the inbox, in anyone's conversations. By channel: a row per channel with anything in the
period. By team: a row per team, then the conversations given to none (``null``); a
survey counts for its conversation's team now, as with the report's ``team=`` filter. With
the query's own filter on the agent (the channel, the team), that row only, the same as in
the list of all.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from sportello.inbox.metrics.filters import messages_in_period
from sportello.inbox.metrics.query import KpiQuery, report_head
from sportello.inbox.metrics.split import Split, split_figures
from sportello.inbox.metrics.times import Group
from sportello.inbox.models import Conversation, Message
from sportello.inbox.survey_tables import Survey
from sportello.inbox.users import Team, User

BY_AGENT = Split(Conversation.assignee, Survey.assignee)
BY_CHANNEL = Split(Conversation.channel, Survey.channel)
BY_TEAM = Split(
    Conversation.team,
    select(Conversation.team)
    .where(col(Conversation.id) == col(Survey.conversation_id))
    .scalar_subquery(),
)


def compute_agent_kpis(session: Session, query: KpiQuery) -> dict[str, Any]:
    """The JSON of ``GET /api/v1/reports/agents``."""
    figures, replies_sent = split_figures(
        session, query, BY_AGENT, lambda other: _replies_sent(other, query)
    )
    agents: list[Group]
    if query.agent is not None:
        agents = [query.agent]
    else:
        named = {*session.exec(select(User.name)).all(), *figures.found(), *replies_sent}
        agents = [*sorted(name for name in named if name is not None), None]
    rows = [
        {
            "agent": agent,
            **figures.row(agent),
            "replies_sent": None if agent is None else replies_sent.get(agent, 0),
        }
        for agent in agents
    ]
    return {**report_head(query), "agents": rows}


def compute_channel_kpis(session: Session, query: KpiQuery) -> dict[str, Any]:
    """The JSON of ``GET /api/v1/reports/channels``."""
    figures, _ = split_figures(session, query, BY_CHANNEL, lambda _: None)
    found = sorted(channel for channel in figures.found() if channel is not None)
    channels = [query.channel] if query.channel is not None else found
    rows = [{"channel": channel, **figures.row(channel)} for channel in channels]
    return {**report_head(query), "channels": rows}


def compute_team_kpis(session: Session, query: KpiQuery) -> dict[str, Any]:
    """The JSON of ``GET /api/v1/reports/teams``."""
    figures, _ = split_figures(session, query, BY_TEAM, lambda _: None)
    teams: list[Group]
    if query.team is not None:
        teams = [query.team]
    else:
        named = {*session.exec(select(Team.name)).all(), *figures.found()}
        teams = [*sorted(name for name in named if name is not None), None]
    rows = [{"team": team, **figures.row(team)} for team in teams]
    return {**report_head(query), "teams": rows}


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
