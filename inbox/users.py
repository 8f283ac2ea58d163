"""Tables of the people who use sportello: users, their teams, their web sessions, their API
tokens.

Secrets are never stored: passwords as argon2 hashes, session and API tokens as
SHA-256 digests (they are long random strings, so a fast digest is enough).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from sportello.inbox.types import UTCDateTime

ROLES = ("agent", "admin")


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    role: str = "agent"
    password_hash: str
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # Taking conversations now: automatic assignment gives new ones only to these, while
    # their inbox is open (its live stream marks ``seen_at``).
    available: bool = False
    last_assigned_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    seen_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # Two-letter codes; automatic assignment prefers an agent who speaks the customer's.
    languages: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    # The channels whose conversations automatic assignment gives them; empty: every channel.
    channels: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    # The conversation open in their inbox, said again every 20 s, and when they last typed
    # a reply in it: the other agents see who else is there (``inbox/viewers.py``).
    viewing_conversation_id: int | None = None
    viewing_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    typing_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class Team(SQLModel, table=True):
    """A group of agents (billing, returns…): a conversation given to a team goes, by
    automatic assignment, only to its members, and its members find it under the team."""

    __tablename__ = "teams"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    members: list[str] = Field(default_factory=list, sa_column=Column(JSON))  # user names
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class UserSession(SQLModel, table=True):
    """A web login: the cookie carries the token, the table its digest."""

    __tablename__ = "user_sessions"

    token_hash: str = Field(primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    csrf_token: str
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ApiToken(SQLModel, table=True):
    """A personal bearer token for scripts; shown once when created."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    label: str
    prefix: str
    token_hash: str = Field(unique=True)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_used_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
