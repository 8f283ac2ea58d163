"""``/api/v1/teams``: teams of agents (admins write; everyone reads, to filter and hand over)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func
from sqlmodel import col, select

from sportello.api.deps import Admin, Caller, DaemonDep, SessionDep
from sportello.inbox import teams
from sportello.inbox.models import Conversation
from sportello.inbox.sla import ACTIVE
from sportello.inbox.users import Team

router = APIRouter(prefix="/api/v1/teams", tags=["users"])


class TeamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    members: list[str] = Field(default_factory=list, description="user names")


class TeamRename(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="the team's new name")


class TeamOut(BaseModel):
    name: str
    members: list[str]
    open_conversations: int = Field(description="open or pending, given to the team")
    updated_at: datetime


@router.get("")
def list_teams(session: SessionDep, _: Caller) -> list[TeamOut]:
    counts = _open_counts(session)
    return [_out(team, counts) for team in teams.all_teams(session)]


@router.put("/{name}")
def save_team(name: str, body: TeamIn, session: SessionDep, daemon: DaemonDep, _: Admin) -> TeamOut:
    """Create the team or replace its members; ``422`` names a member who is no user."""
    try:
        team = teams.save_team(session, name, body.members, daemon.clock.now())
    except teams.TeamError as exc:
        raise HTTPException(422, str(exc)) from None
    session.commit()
    daemon.live.publish("teams.changed", name=team.name)
    return _out(team, _open_counts(session))


@router.patch("/{name}")
def rename_team(
    name: str, body: TeamRename, session: SessionDep, daemon: DaemonDep, caller: Admin
) -> TeamOut:
    """Rename the team: its conversations, and the triage rules and SLA policies naming it,
    follow. ``409`` when a team has that name already, ``422`` for an empty one."""
    team = teams.find_team(session, name)
    if team is None:
        raise HTTPException(404, f"team {name} not found")
    try:
        teams.rename_team(session, team, body.name, daemon.clock.now(), caller)
    except teams.TeamExists as exc:
        raise HTTPException(409, str(exc)) from None
    except teams.TeamError as exc:
        raise HTTPException(422, str(exc)) from None
    session.commit()
    daemon.live.publish("teams.changed", name=team.name, previous=name)
    return _out(team, _open_counts(session))


def _open_counts(session: SessionDep) -> dict[str, int]:
    counted = session.exec(
        select(Conversation.team, func.count())
        .where(col(Conversation.team).is_not(None), col(Conversation.status).in_(ACTIVE))
        .group_by(col(Conversation.team))
    )
    return {name: int(count) for name, count in counted if name is not None}


def _out(team: Team, counts: dict[str, int]) -> TeamOut:
    return TeamOut(
        name=team.name,
        members=team.members or [],
        open_conversations=counts.get(team.name, 0),
        updated_at=team.updated_at,
    )


@router.delete("/{name}", status_code=204)
def delete_team(name: str, session: SessionDep, daemon: DaemonDep, caller: Admin) -> Response:
    """Delete the team; its conversations are left without one (a ``team`` event each)."""
    team = teams.find_team(session, name)
    if team is None:
        raise HTTPException(404, f"team {name} not found")
    teams.delete_team(session, team, daemon.clock.now(), caller)
    session.commit()
    daemon.live.publish("teams.changed", name=name)
    return Response(status_code=204)
