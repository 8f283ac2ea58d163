"""Periodic upkeep: trimming the journal and statuses that never found their message."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, delete, update
from sqlalchemy import text as sql_text
from sqlmodel import Session, col

from sportello.config.settings import RetentionSettings, parse_duration
from sportello.inbox.batches import in_batches
from sportello.inbox.db import session_scope
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


def trim_all_deliveries(
    engine: Engine,
    now: datetime,
    settings: RetentionSettings,
    *,
    budget_s: float = 30.0,
    write_lock: AbstractContextManager[Any] | None = None,
    pause: Callable[[], object] | None = None,
) -> int:
    """Trim batch after batch, each in a transaction of its own, for at most about
    ``budget_s`` (see :func:`in_batches`); returns how many were trimmed."""

    def batch() -> int:
        with write_lock or nullcontext(), session_scope(engine) as session:
            return trim_deliveries(session, now, settings)

    return in_batches(batch, BATCH, budget_s=budget_s, pause=pause)


EARLY_STATUS_TTL = timedelta(days=2)


def trim_early_statuses(session: Session, now: datetime) -> int:
    """Statuses about ids we never sent (another system's messages) are dropped after a while."""
    result = session.exec(  # type: ignore[call-overload]
        delete(EarlyStatus).where(col(EarlyStatus.at) < now - EARLY_STATUS_TTL)
    )
    return int(result.rowcount or 0)
