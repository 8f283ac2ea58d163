"""Teams of agents: who is in each, and the conversations given to one.

A conversation's ``team`` is set by hand (``PATCH``), by a triage rule (``team = "…"``) or
not at all. Automatic assignment gives a team's conversation only to its members; the inbox
filters by team. A team deleted leaves its conversations without one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from sportello.inbox import settings_store
from sportello.inbox.models import CLOCK_CHANGED, Conversation, ConversationEvent
from sportello.inbox.new_row import new_row
from sportello.inbox.users import Team, User

MAX_NAME = 64


class TeamError(ValueError):
    """A team that cannot be saved as asked; the message says why."""


class TeamExists(TeamError):
    """Another team has the name asked for."""


def all_teams(session: Session) -> list[Team]:
    return list(session.exec(select(Team).order_by(col(Team.name))))


def find_team(session: Session, name: str) -> Team | None:
    return session.exec(select(Team).where(Team.name == name)).first()


def members_by_team(session: Session) -> dict[str, set[str]]:
    return {team.name: set(team.members or ()) for team in all_teams(session)}


def save_team(session: Session, name: str, members: list[str], now: datetime) -> Team:
    """Create the team ``name`` or replace its members (user names, each once)."""
    name = _valid_name(name)
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


def rename_team(session: Session, team: Team, name: str, now: datetime, actor: str | None) -> int:
    """Call ``team`` ``name``, and with it its conversations, the triage rules that give
    conversations to it and the SLA policies for it. Returns how many conversations."""
    name, old = _valid_name(name), team.name
    if name == old:
        return 0
    if find_team(session, name) is not None:
        raise TeamExists(f"a team named {name} exists already")
    # No SLA mark (inbox/sla.py): the policies are renamed with it, so no deadline moves.
    given = col(Conversation.team) == old
    renamed = session.exec(update(Conversation).where(given).values(team=name))  # type: ignore[call-overload]
    team.name, team.updated_at = name, now
    rules = settings_store.triage_rules(session)
    if any(rule.team == old for rule in rules):
        rules_renamed = [
            rule.model_copy(update={"team": name}) if rule.team == old else rule for rule in rules
        ]
        settings_store.set_triage_rules(session, rules_renamed, now, actor)
    policies = settings_store.sla_policies(session)
    if any(old in policy.teams for policy in policies):
        policies_renamed = [
            policy.model_copy(update={"teams": [name if t == old else t for t in policy.teams]})
            for policy in policies
        ]
        settings_store.set_sla_policies(session, policies_renamed, now, actor)
    session.flush()
    return int(renamed.rowcount or 0)


def _valid_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise TeamError(f"a team's name has 1 to {MAX_NAME} characters")
    return name


def delete_team(session: Session, team: Team, now: datetime, actor: str | None) -> int:
    """Delete ``team``; its conversations are left without one, each recording the change
    (a ``team`` event, as when an agent takes one out: the history and the integration
    webhooks tell it). Returns how many."""
    left = {"team": None, "sla_check_at": CLOCK_CHANGED}  # an SLA policy may name the team
    # The ids the update changed, not the ones a read found before it: a conversation
    # erased in between gets no event (its row is gone, and the event's key would fail).
    given = update(Conversation).where(col(Conversation.team) == team.name).values(left)
    ids = [row_id for (row_id,) in session.exec(given.returning(col(Conversation.id)))]
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
