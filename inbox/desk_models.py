"""Tables of the unified inbox: link suggestions, the customer audit log, notes and the
agents they name, canned replies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlalchemy import text as sql_text
from sqlmodel import Field, SQLModel

from sportello.inbox.types import UTCDateTime


class CustomerLink(SQLModel, table=True):
    """A suggested link between two customers on weak evidence, waiting for an agent."""

    __tablename__ = "customer_links"
    __table_args__ = (Index("ix_customer_links_status_id", "status", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(index=True)
    other_id: int = Field(index=True)
    reason: str
    score: float
    status: str = "suggested"  # suggested | confirmed | dismissed | merged
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    decided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    decided_by: str | None = None


class CustomerAudit(SQLModel, table=True):
    """Who merged, split or erased which customer, when, and which rows moved (ids only)."""

    __tablename__ = "customer_audit"
    __table_args__ = (Index("ix_customer_audit_customer_id_id", "customer_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    actor: str
    action: str  # merge | unmerge | erase | link_confirmed | link_dismissed
    customer_id: int
    other_id: int | None = Field(default=None, index=True)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class ConversationNote(SQLModel, table=True):
    """A note agents leave on a conversation; never sent to the customer."""

    __tablename__ = "conversation_notes"

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversations.id", index=True)
    author: str
    text: str
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class NoteMention(SQLModel, table=True):
    """An agent named in a note (``@bob``): it waits among their mentions until they open
    the conversation."""

    __tablename__ = "note_mentions"
    __table_args__ = (Index("ix_note_mentions_user_id_id", "user_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    note_id: int = Field(foreign_key="conversation_notes.id", index=True)
    conversation_id: int = Field(index=True)
    user_id: int = Field(foreign_key="users.id")
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    read_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class CannedReply(SQLModel, table=True):
    """A reusable answer; ``{name}`` and ``{next_open}`` are filled in when it is sent."""

    __tablename__ = "canned_replies"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(unique=True)
    text: str
    language: str | None = None
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Macro(SQLModel, table=True):
    """Steps an agent takes together, in one click: a reply (``{name}`` and ``{next_open}``
    filled in as in a canned reply), a note, tags, a priority, taking the conversation, a
    status or a snooze. Each ``None`` (or empty) step is left out.

    A shared macro (no ``owner``) is written by admins and applied by every agent; an
    agent's own (``owner``: their name) is seen, written and applied by them alone. Names
    are unique among the shared ones and among each agent's own."""

    __tablename__ = "macros"
    __table_args__ = (
        Index("uq_macros_owner_name", "owner", "name", unique=True),
        Index(
            "uq_macros_shared_name",
            "name",
            unique=True,
            postgresql_where=sql_text("owner IS NULL"),
            sqlite_where=sql_text("owner IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str
    owner: str | None = None
    reply: str | None = None
    note: str | None = None
    add_tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    priority: int | None = None
    take: bool = False
    status: str | None = None
    snooze_for: str | None = None  # a duration ("1d"): snoozed until then
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_by: str | None = None
