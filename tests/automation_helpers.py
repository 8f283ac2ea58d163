"""Helpers for the automation tests: a migrated engine, office hours, normalized messages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from sportello.config.settings import AwayMessageSettings, BusinessHoursSettings
from sportello.connectors.base import Event, InboundMessage, Person, Thread
from sportello.inbox import settings_store
from sportello.inbox.away import AwayResponder
from sportello.inbox.db import make_engine, migrate, session_scope
from sportello.inbox.ingest import ingest
from sportello.inbox.models import Message

ROME = ZoneInfo("Europe/Rome")
GIULIA_PHONE = "+393331234567"
OFFICE = {
    "timezone": "Europe/Rome",
    "holidays": "IT",
    **{day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
    "closures": ["2026-12-24T13:00/2026-12-27T00:00"],
}
AWAY = {
    "when": "closed",
    "cooldown": "12h",
    "text": {
        "it": "Ciao {name}, siamo chiusi: ti rispondiamo da {next_open}.",
        "en": "Hi {name}, we are closed: we will answer from {next_open}.",
    },
}


def rome(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=ROME).astimezone(UTC)


def migrated(url: str) -> Engine:
    engine = make_engine(url)
    migrate(engine)
    return engine


def configure(engine: Engine, now: datetime, rules: Sequence[dict[str, Any]] = (AWAY,)) -> None:
    with session_scope(engine) as session:
        settings_store.set_business_hours(
            session, BusinessHoursSettings.model_validate(OFFICE), now, "test"
        )
        settings_store.set_away_rules(
            session, [AwayMessageSettings.model_validate(r) for r in rules], now, "test"
        )


def inbound(
    channel: str,
    external_id: str,
    at: datetime,
    *,
    user: str = "u1",
    text: str = "ciao",
    name: str = "Giulia Rossi",
    phone: str | None = GIULIA_PHONE,
    language: str | None = "it",
    direction: str = "in",
    reply_to: str | None = None,
    public: bool = False,
    thread: str | None = None,
) -> InboundMessage:
    return InboundMessage(
        channel=channel,  # type: ignore[arg-type]
        external_id=external_id,
        thread=Thread(external_id=thread or f"{channel}:{user}", public=public),
        customer=Person(external_id=user, display_name=name, phone=phone, language=language),
        sent_at=at,
        text=text,
        direction=direction,  # type: ignore[arg-type]
        reply_to_external_id=reply_to,
    )


def deliver(
    engine: Engine, responder: AwayResponder, events: Sequence[Event], now: datetime
) -> None:
    """One delivery through ingest and the away hook, in one transaction like the worker."""
    with session_scope(engine) as session:
        responder(session, ingest(session, events, now=now))


def bot_messages(session: Session) -> list[Message]:
    return list(
        session.exec(select(Message).where(Message.author == "bot").order_by(col(Message.id)))
    )


def count(session: Session, table: type) -> int:
    return session.exec(select(func.count()).select_from(table)).one()
