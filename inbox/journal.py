"""The journal of raw inbound deliveries: written first, parsed after.

A webhook answers 200 only once :func:`append` has committed. Work left here when the
process dies (state ``pending``) is picked up again on the next start.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, literal, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from sportello.inbox.models import Delivery

PENDING, PROCESSED, QUARANTINED, FAILED = "pending", "processed", "quarantined", "failed"

# Headers worth keeping with a delivery; signatures are kept for audit, never secrets.
KEPT_HEADERS = (
    "content-type",
    "user-agent",
    "x-hub-signature-256",
    "x-twitter-webhooks-signature",
    "x-forwarded-for",
)


def dedup_key(body: bytes, platform_key: str | None) -> str:
    return platform_key or "sha256:" + hashlib.sha256(body).hexdigest()


def delivery_row(
    channel: str,
    body: bytes,
    received_at: datetime,
    headers: Mapping[str, str] | None = None,
    platform_key: str | None = None,
    source: str = "webhook",
) -> dict[str, Any]:
    """The journal row of one raw delivery, with only the headers worth keeping."""
    return {
        "channel": channel,
        "source": source,
        "dedup_key": dedup_key(body, platform_key),
        "headers": {k: v for k, v in (headers or {}).items() if k.lower() in KEPT_HEADERS},
        "body": body,
        "received_at": received_at,
        "state": PENDING,
        "attempts": 0,
        "events": 0,
    }


def append(
    engine: Engine,
    *,
    channel: str,
    body: bytes,
    received_at: datetime,
    headers: Mapping[str, str] | None = None,
    source: str = "webhook",
    platform_key: str | None = None,
) -> int | None:
    """Commit one raw delivery; ``None`` when the same delivery was journaled before."""
    row = Delivery(**delivery_row(channel, body, received_at, headers, platform_key, source))
    with Session(engine) as session:
        session.add(row)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            return None
        return row.id


def append_many(
    session: Session,
    *,
    channel: str,
    bodies: Sequence[tuple[bytes, str | None]],
    received_at: datetime,
) -> int:
    """Journal polled deliveries inside the caller's transaction; returns how many were new."""
    keys = [dedup_key(body, key) for body, key in bodies]
    seen = set(
        session.exec(
            select(Delivery.dedup_key).where(
                col(Delivery.channel) == channel, col(Delivery.dedup_key).in_(keys)
            )
        )
    )
    added = 0
    for (body, _), key in zip(bodies, keys, strict=True):
        if key in seen:
            continue
        seen.add(key)
        session.add(
            Delivery(
                channel=channel, source="poll", dedup_key=key, body=body, received_at=received_at
            )
        )
        added += 1
    return added


def claim_pending(session: Session, limit: int) -> list[Delivery]:
    """The oldest pending deliveries, locked for this worker on PostgreSQL (SKIP LOCKED).

    The state and the limit are written into the statement, not bound: only then may
    PostgreSQL read the pending deliveries' own index (``ix_deliveries_pending``) in a plan it
    keeps for reuse, and know that it needs only the first few of them.
    """
    query = (
        select(Delivery)
        .where(col(Delivery.state) == literal(PENDING, literal_execute=True))
        .order_by(col(Delivery.id))
        .limit(literal(limit, literal_execute=True))
        .with_for_update(skip_locked=True)
    )
    return list(session.exec(query))


def requeue(session: Session, state: str = FAILED, channel: str | None = None) -> int:
    """Put failed (or quarantined) deliveries back in line, e.g. after a fix or an outage."""
    if state not in (FAILED, QUARANTINED):
        raise ValueError(f"only {FAILED} or {QUARANTINED} deliveries can be requeued")
    query = update(Delivery).where(col(Delivery.state) == state)
    if channel is not None:
        query = query.where(col(Delivery.channel) == channel)
    result = session.exec(query.values(state=PENDING, error=None, attempts=0))  # type: ignore[call-overload]
    return int(result.rowcount or 0)
