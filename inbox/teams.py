"""Teams of agents: who is in each, and the conversations given to one.

A conversation's ``team`` is set by hand (``PATCH``), by a triage rule (``team = "…"``) or
not at all. Automatic assignment gives a team's conversation only to its members; the inbox
filters by team. A team deleted leaves its conversations without one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from sportello.inbox.models import CLOCK_CHANGED, Conversation, ConversationEvent
from sportello.inbox.new_row import new_row
from sportello.inbox.users import Team, User

MAX_NAME = 64


class TeamError(ValueError):
    """A team that cannot be saved as asked; the message says why."""


def all_teams(session: Session) -> list[Team]:
    return list(session.exec(select(Team).order_by(col(Team.name))))


def find_team(session: Session, name: str) -> Team | None:
    return session.exec(select(Team).where(Team.name == name)).first()


def members_by_team(session: Session) -> dict[str, set[str]]:
    return {team.name: set(team.members or ()) for team in all_teams(session)}


def save_team(session: Session, name: str, members: list[str], now: datetime) -> Team:
    """Create the team ``name`` or replace its members (user names, each once)."""
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise TeamError(f"a team's name has 1 to {MAX_NAME} characters")
    wanted = list(dict.fromkeys(members))
    known = set(session.exec(select(User.name).where(col(User.name).in_(wanted))))
    unknown = [member for member in wanted if member not in known]
    if unknown:
        raise TeamError(f"no user named {', '.join(unknown)}")
    team = find_team(session, name)
    if team is None:
        team = Team(name=name, members=wanted, created_at=now, updated_at=now)
        session.add(team)
    else:
        team.members, team.updated_at = wanted, now
    session.flush()
    return team


def delete_team(session: Session, team: Team, now: datetime, actor: str | None) -> int:
    """Delete ``team``; its conversations are left without one, each recording the change
    (a ``team`` event, as when an agent takes one out: the history and the integration
    webhooks tell it). Returns how many."""
    given = col(Conversation.team) == team.name
    ids = list(session.exec(select(Conversation.id).where(given)))
    left = {"team": None, "sla_check_at": CLOCK_CHANGED}  # an SLA policy may name the team
    session.exec(update(Conversation).where(given).values(left))  # type: ignore[call-overload]
    for conversation_id in ids:
        session.add(
            new_row(
                ConversationEvent,
                conversation_id=conversation_id,
                kind="team",
                at=now,
                actor=actor,
                data={"team": None, "previous": team.name},
            )
        )
    session.delete(team)
    session.flush()
    return len(ids)
