"""Inbound messages ingested as one worker batch (one lookup read), without the journal; the
statements a batch sends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from plan_helpers import on_each_statement
from sqlalchemy import Engine

from sportello.connectors.base import InboundMessage, Person, Thread
from sportello.inbox.db import session_scope
from sportello.inbox.ingest import ingest

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def inbound(channel: str, person: Person, n: int, **extra: object) -> InboundMessage:
    """Message ``n`` from ``person``, in their own thread on ``channel``."""
    return InboundMessage(
        channel=channel,  # type: ignore[arg-type]
        external_id=f"{channel}-{n}",
        thread=Thread(person.external_id),
        customer=person,
        sent_at=T0,
        text=f"message {n}",
        **extra,  # type: ignore[arg-type]
    )


def ingest_batch(engine: Engine, *events: InboundMessage) -> list[int]:
    """Ingest ``events`` as one batch; the customer id of each message stored."""
    with session_scope(engine) as session:
        ingested = ingest(session, list(events), now=T0)
        return [message.customer_id for message, _ in ingested.new_messages]


@contextmanager
def statements(engine: Engine) -> Iterator[list[tuple[str, bool]]]:
    """The statements ``engine`` runs meanwhile, each with whether it was an executemany."""
    seen: list[tuple[str, bool]] = []
    with on_each_statement(engine, lambda statement, _params, many: seen.append((statement, many))):
        yield seen
