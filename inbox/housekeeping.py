"""Periodic upkeep: trimming the journal and statuses that never found their message."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from sportello.config.settings import RetentionSettings, parse_duration
from sportello.inbox import journal
from sportello.inbox.models import Delivery, EarlyStatus

BATCH = 1000


def trim_deliveries(session: Session, now: datetime, settings: RetentionSettings) -> int:
    """Processed raw deliveries older than the retention lose their body (or their row).

    Quarantined and failed deliveries are kept whole: someone still has to look at them.
    """
    if settings.deliveries_after is None:
        return 0
    cutoff = now - timedelta(seconds=parse_duration(settings.deliveries_after))
    old = (
        select(Delivery.id)
        .where(Delivery.state == journal.PROCESSED, col(Delivery.processed_at) < cutoff)
        .order_by(col(Delivery.id))
        .limit(BATCH)
    )
    if settings.deliveries_action == "drop_body":
        old = old.where(Delivery.body != b"")
    ids = list(session.exec(old))
    if not ids:
        return 0
    chosen = col(Delivery.id).in_(ids)
    if settings.deliveries_action == "delete":
        session.exec(delete(Delivery).where(chosen))  # type: ignore[call-overload]
    else:
        session.exec(update(Delivery).where(chosen).values(body=b"", headers={}))  # type: ignore[call-overload]
    return len(ids)


EARLY_STATUS_TTL = timedelta(days=2)


def trim_early_statuses(session: Session, now: datetime) -> int:
    """Statuses about ids we never sent (another system's messages) are dropped after a while."""
    result = session.exec(  # type: ignore[call-overload]
        delete(EarlyStatus).where(col(EarlyStatus.at) < now - EARLY_STATUS_TTL)
    )
    return int(result.rowcount or 0)
