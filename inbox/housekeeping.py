"""Periodic upkeep: trimming the journal of old processed deliveries."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from sportello.config.settings import RetentionSettings, parse_duration
from sportello.inbox import journal
from sportello.inbox.models import Delivery

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
