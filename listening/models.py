"""The listening tables: mentions, alerts and each alert's notifications per sink."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from sportello.inbox.types import UTCDateTime


def _ts(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


class Mention(SQLModel, table=True):
    """A public post about the brand (or a competitor), stored once per source and id."""

    __tablename__ = "mentions"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_mentions_published", "published_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str  # "x" or "feed"
    external_id: str
    topic: str = "brand"  # "brand" or a competitor's name
    query: str | None = None  # the X query or feed name that found it; "inbox" for public tweets
    author_id: str | None = None
    author_handle: str | None = None
    author_name: str | None = None
    title: str | None = None
    text: str = ""
    link: str | None = None
    thread_external_id: str | None = None
    language: str | None = None
    published_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    fetched_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    sentiment_compound: float | None = None
    sentiment_label: str | None = None
    sentiment_corrected: bool = False
    # Plain ids, no foreign keys: erasing a customer must not be blocked by a mention.
    delivery_id: int | None = None
    message_id: int | None = Field(default=None, index=True)
    conversation_id: int | None = None


class Alert(SQLModel, table=True):
    """One episode of a condition: fired once, resolved once when the condition clears."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_kind_key_state", "kind", "key", "state"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str
    key: str
    rule: str | None = None
    title: str
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    state: str = "firing"  # "firing" | "resolved"
    fired_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    last_seen_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    resolved_at: datetime | None = _ts()
    fanned_out: str = ""  # events already turned into notifications: "", "fired", "resolved"


class AlertNotification(SQLModel, table=True):
    """One alert event (fired or resolved) to one sink, with its retry state."""

    __tablename__ = "alert_notifications"
    __table_args__ = (
        UniqueConstraint("alert_id", "event", "sink"),
        Index("ix_alert_notifications_state_due", "state", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alerts.id", index=True)
    event: str  # "fired" | "resolved"
    sink: str
    state: str = "pending"  # "pending" | "sent" | "failed"
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_error: str | None = None
    sent_at: datetime | None = _ts()
