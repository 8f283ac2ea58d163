"""The outbox of the integration webhooks: one row per event and webhook, with its tries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from sportello.inbox.types import UTCDateTime


class WebhookDelivery(SQLModel, table=True):
    """An event owed to a webhook: ``pending`` until it answers 2xx (``delivered``), or
    ``failed`` when it refused it or the tries ran out (``last_error`` says why)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    webhook: str
    event: str
    conversation_id: int | None = Field(default=None, index=True)  # for erasure
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    next_attempt_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    attempts: int = 0
    state: str = "pending"
    last_error: str | None = None
    delivered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
