"""Periodic upkeep: trimming the journal, statuses that never found their message, and the
integration webhooks' finished deliveries."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, delete, or_, update
from sqlalchemy import text as sql_text
from sqlmodel import Session, col, select

from sportello.config.settings import IntegrationsSettings, RetentionSettings, parse_duration
from sportello.inbox.batches import in_batches
from sportello.inbox.db import session_scope
from sportello.inbox.integration_tables import WebhookDelivery
from sportello.inbox.models import TRIMMED, UNTRIMMED, Delivery, EarlyStatus
from sportello.inbox.types import UTCDateTime

BATCH = 1000


def trim_deliveries(session: Session, now: datetime, settings: RetentionSettings) -> int:
    """Processed raw deliveries older than the retention lose their body (or their row), up
    to :data:`BATCH` of them, the oldest first; returns how many.

    Quarantined and failed deliveries are kept whole: someone still has to look at them.
    With ``delete``, rows an earlier ``drop_body`` emptied go too. The conditions are written
    into the statements, so that each reads the index of exactly these deliveries
    (``ix_deliveries_untrimmed``, ``ix_deliveries_trimmed``), not the ones trimmed before.
    """
    if settings.deliveries_after is None:
        return 0
    cutoff = now - timedelta(seconds=parse_duration(settings.deliveries_after))
    ids = _oldest(session, "ix_deliveries_untrimmed", UNTRIMMED, "processed_at", cutoff, BATCH)
    if settings.deliveries_action == "delete" and len(ids) < BATCH:
        ids += _oldest(session, "ix_deliveries_trimmed", TRIMMED, "id", cutoff, BATCH - len(ids))
    if not ids:
        return 0
    chosen = col(Delivery.id).in_(ids)
    if settings.deliveries_action == "delete":
        session.exec(delete(Delivery).where(chosen))  # type: ignore[call-overload]
    else:
        session.exec(update(Delivery).where(chosen).values(body=b"", headers={}))  # type: ignore[call-overload]
    return len(ids)


def _oldest(
    session: Session, index: str, condition: str, order_by: str, cutoff: datetime, limit: int
) -> list[int]:
    """The ids of the first ``limit`` deliveries under ``condition`` processed before
    ``cutoff``, read through ``index``.

    SQLite is told the index (``INDEXED BY``): the daemon never analyzes SQLite, and without
    statistics its planner reads ``state = 'processed'`` through ``ix_deliveries_state_id``,
    every processed delivery a batch (0.3-0.4 s at 1M, under the write lock). The limit is
    written into the statement, so that a generic plan on PostgreSQL uses the index too.
    """
    indexed_by = f" INDEXED BY {index}" if session.get_bind().dialect.name == "sqlite" else ""
    statement = sql_text(
        f"SELECT id FROM deliveries{indexed_by} WHERE {condition} AND processed_at < :cutoff"
        f" ORDER BY {order_by} LIMIT {int(limit)}"
    ).bindparams(bindparam("cutoff", cutoff, type_=UTCDateTime()))
    return list(session.execute(statement).scalars())


def trim_in_batches(
    engine: Engine,
    trim: Callable[[Session], int],
    *,
    budget_s: float = 30.0,
    write_lock: AbstractContextManager[Any] | None = None,
    pause: Callable[[], object] | None = None,
) -> int:
    """Run ``trim`` (one batch of at most :data:`BATCH`) batch after batch, each in a
    transaction of its own, for at most about ``budget_s`` (see :func:`in_batches`);
    returns how many were trimmed."""

    def batch() -> int:
        with write_lock or nullcontext(), session_scope(engine) as session:
            return trim(session)

    return in_batches(batch, BATCH, budget_s=budget_s, pause=pause)


EARLY_STATUS_TTL = timedelta(days=2)


def trim_early_statuses(session: Session, now: datetime) -> int:
    """Statuses about ids we never sent (another system's messages) are dropped after a while."""
    result = session.exec(  # type: ignore[call-overload]
        delete(EarlyStatus).where(col(EarlyStatus.at) < now - EARLY_STATUS_TTL)
    )
    return int(result.rowcount or 0)


def trim_webhook_deliveries(session: Session, now: datetime, settings: IntegrationsSettings) -> int:
    """Delivered webhook deliveries older than ``keep_delivered`` and failed ones older than
    ``keep_failed`` are deleted, up to :data:`BATCH` of each; returns how many.

    Pending ones always stay: they are still owed. The age is the delivery's (or, for a
    failed one, its last try's); the search narrows on ``ix_webhook_deliveries_due``
    (``next_attempt_at`` is never later than the delivery)."""
    deleted = 0
    for state, keep in (("delivered", settings.keep_delivered), ("failed", settings.keep_failed)):
        cutoff = now - timedelta(seconds=parse_duration(keep))
        ids = session.exec(
            select(WebhookDelivery.id)
            .where(
                WebhookDelivery.state == state,
                col(WebhookDelivery.next_attempt_at) < cutoff,
                or_(
                    col(WebhookDelivery.delivered_at).is_(None),
                    col(WebhookDelivery.delivered_at) < cutoff,
                ),
            )
            .order_by(col(WebhookDelivery.next_attempt_at))
            .limit(BATCH)
        ).all()
        if ids:
            session.exec(  # type: ignore[call-overload]
                delete(WebhookDelivery).where(col(WebhookDelivery.id).in_(ids))
            )
        deleted += len(ids)
    return deleted
