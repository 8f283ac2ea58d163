"""Tables of the automation area: job leases, stored settings, away cooldowns, SLA breaches.

Rows here point at customers and conversations by id without foreign keys, so erasing a
customer never trips over them; :func:`sportello.inbox.sla.forget_conversations` and
:func:`sportello.inbox.away.forget_customer` remove what is left.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from sportello.inbox.types import UTCDateTime


class JobLease(SQLModel, table=True):
    """Which replica runs a periodic job until ``expires_at``, and the last slot it ran."""

    __tablename__ = "job_leases"

    name: str = Field(primary_key=True)
    holder: str
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_slot: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class StoredSetting(SQLModel, table=True):
    """A setting edited at run time (business hours, away rules, SLA policies) as JSON."""

    __tablename__ = "stored_settings"

    key: str = Field(primary_key=True)
    value: Any = Field(sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_by: str | None = None


class AwayCooldown(SQLModel, table=True):
    """When a customer last got an away message; one row per customer, across channels."""

    __tablename__ = "away_cooldowns"

    customer_id: int = Field(primary_key=True)
    last_sent_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class RuleAnswer(SQLModel, table=True):
    """A triage rule's automatic answer in one conversation: each answers there once."""

    __tablename__ = "rule_answers"

    conversation_id: int = Field(primary_key=True)
    rule: str = Field(primary_key=True)
    sent_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class SlaBreach(SQLModel, table=True):
    """A warning before, or the breach of, a deadline of one conversation."""

    __tablename__ = "sla_breaches"
    __table_args__ = (UniqueConstraint("conversation_id", "kind", "level", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(index=True)
    channel: str
    kind: str  # first_response, resolution, window_closing
    level: str  # warning, breach
    policy: str | None = None
    due_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    fired_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
