"""``/api/v1/me``, ``/api/v1/tokens`` (personal API tokens), ``/api/v1/agents`` (the team,
for everyone) and ``/api/v1/users`` (admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlmodel import Session

from sportello.api.deps import (
    Admin,
    Caller,
    CurrentUser,
    DaemonDep,
    Principal,
    SessionDep,
    get_or_404,
)
from sportello.api.inputs import RowId
from sportello.connectors.base import Channel
from sportello.inbox import accounts
from sportello.inbox.assignment import open_loads
from sportello.inbox.users import User

router = APIRouter(prefix="/api/v1", tags=["users"])


class MeOut(BaseModel):
    name: str
    role: Literal["agent", "admin"]
    via: Literal["config", "token", "session"]
    available: bool | None = Field(
        default=None, description="taking conversations (automatic assignment); null: no user"
    )


class AvailabilityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    available: bool


Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: Literal["agent", "admin"]
    created_at: datetime
    available: bool
    languages: list[str] = Field(
        default_factory=list, description="spoken: automatic assignment prefers a speaker"
    )
    channels: list[Channel] = Field(
        default_factory=list,
        description="automatic assignment gives them only these channels' conversations; "
        "empty: every channel",
    )
    open_conversations: int = Field(default=0, description="open or pending, assigned to them")

    @field_validator("languages", "channels", mode="before")
    @classmethod
    def _none_is_empty(cls, value: list[str] | None) -> list[str]:
        return value or []


class UserPatch(BaseModel):
    """What to change; the fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    languages: list[Language] | None = Field(
        default=None,
        description='two-letter codes, e.g. ["it", "en"]; automatic assignment gives an '
        "agent who speaks the customer's language first",
    )
    channels: list[Channel] | None = Field(
        default=None,
        description='e.g. ["whatsapp", "messenger"]: automatic assignment gives the agent only '
        "these channels' conversations; [] for every channel",
    )
    available: bool | None = Field(
        default=None,
        description="false: the agent takes no new conversations (someone who left without "
        "saying so); true only takes effect while their inbox is open",
    )


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    password: str
    role: Literal["agent", "admin"] = "agent"


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    label: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None = None


class NewTokenOut(TokenOut):
    token: str = Field(description="the secret; shown only in this answer")


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str


def _user_of(session: Session, principal: Principal) -> User:
    user = session.get(User, principal.user_id) if principal.user_id is not None else None
    if user is None:
        raise HTTPException(403, "personal tokens belong to users; log in as one")
    return user


@router.get("/me")
def me(session: SessionDep, principal: CurrentUser) -> MeOut:
    user = session.get(User, principal.user_id) if principal.user_id is not None else None
    return _me(principal, user.available if user is not None else None)


@router.put("/me/availability")
def set_availability(
    body: AvailabilityIn, session: SessionDep, daemon: DaemonDep, principal: CurrentUser
) -> MeOut:
    """Whether the caller takes conversations now: automatic assignment gives new ones only
    to available agents (signing out makes one unavailable)."""
    user = _user_of(session, principal)
    assert user.id is not None
    accounts.set_available(session, user.id, body.available)
    session.commit()
    daemon.live.publish("agent.availability", name=principal.name, available=body.available)
    return _me(principal, body.available)


def _me(principal: Principal, available: bool | None) -> MeOut:
    return MeOut(name=principal.name, role=principal.role, via=principal.via, available=available)


@router.get("/tokens")
def list_tokens(session: SessionDep, principal: CurrentUser) -> list[TokenOut]:
    user = _user_of(session, principal)
    return [TokenOut.model_validate(t) for t in accounts.api_tokens_of(session, user)]


@router.post("/tokens", status_code=201)
def create_token(
    body: TokenIn, session: SessionDep, daemon: DaemonDep, principal: CurrentUser
) -> NewTokenOut:
    user = _user_of(session, principal)
    try:
        secret, row = accounts.create_api_token(session, user, body.label, daemon.clock.now())
    except accounts.AccountError as exc:
        raise HTTPException(422, str(exc)) from None
    return NewTokenOut(token=secret, **TokenOut.model_validate(row).model_dump())


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: RowId, session: SessionDep, principal: CurrentUser) -> Response:
    if not accounts.revoke_api_token(session, _user_of(session, principal), token_id):
        raise HTTPException(404, f"token {token_id} not found")
    return Response(status_code=204)


class AgentOut(BaseModel):
    """A colleague, as every agent sees them: to hand a conversation over, to name in a note."""

    name: str
    available: bool = Field(description="taking conversations (automatic assignment)")
    open_conversations: int = Field(description="open or pending, assigned to them")


@router.get("/agents")
def list_agents(session: SessionDep, _: Caller) -> list[AgentOut]:
    """Every user, by name, with their workload."""
    users = accounts.list_users(session)
    loads = open_loads(session, [u.name for u in users])
    return [
        AgentOut(name=u.name, available=u.available, open_conversations=loads[u.name])
        for u in sorted(users, key=lambda u: u.name.casefold())
    ]


@router.get("/users")
def list_users(session: SessionDep, _: Admin) -> list[UserOut]:
    return _users_out(session, accounts.list_users(session))


@router.patch("/users/{user_id}")
def update_user(
    user_id: RowId, body: UserPatch, session: SessionDep, daemon: DaemonDep, _: Admin
) -> UserOut:
    user = get_or_404(session, User, user_id, "user")
    if body.languages is not None:
        accounts.set_languages(session, user, body.languages)
    if body.channels is not None:
        accounts.set_channels(session, user, list(body.channels))
    if body.available is not None:
        user.available = body.available
    session.commit()
    if body.available is not None:
        daemon.live.publish("agent.availability", name=user.name, available=body.available)
    return _users_out(session, [user])[0]


def _users_out(session: Session, users: list[User]) -> list[UserOut]:
    """The users with how many open conversations each has."""
    loads = open_loads(session, [u.name for u in users])
    return [
        UserOut.model_validate(u).model_copy(update={"open_conversations": loads[u.name]})
        for u in users
    ]


@router.post("/users", status_code=201)
def create_user(body: UserIn, session: SessionDep, daemon: DaemonDep, _: Admin) -> UserOut:
    try:
        accounts.check_new_password(body.password)
        user = accounts.create_user(
            session, body.name, body.password, body.role, daemon.clock.now()
        )
    except accounts.AccountError as exc:
        raise HTTPException(422, str(exc)) from None
    return UserOut.model_validate(user)
