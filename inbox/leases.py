"""Database leases: each periodic job runs on one replica at a time, once per slot.

A lease row names its holder until ``expires_at``. A replica takes it over only when it has
expired, so a replica that dies hands its jobs over one lease later. Within a lease, the
holder claims a slot (e.g. the minute a job is for) with a conditional update, so a restart
or a hand-over in the middle of a slot never runs that slot a second time.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, or_, update
from sqlmodel import Session, col

from sportello.inbox.automation_tables import JobLease
from sportello.inbox.db import session_scope
from sportello.inbox.upsert import insert_ignore

_LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


def acquire(session: Session, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
    """Take or renew the lease ``name`` for ``holder``; False while another replica holds it."""
    renewed = session.connection().execute(
        update(JobLease)
        .where(
            JobLease.name == name,  # type: ignore[arg-type]
            or_(JobLease.expires_at < now, JobLease.holder == holder),  # type: ignore[arg-type]
        )
        .values(holder=holder, expires_at=now + ttl)
    )
    if renewed.rowcount:
        return True
    return insert_ignore(
        session, JobLease, {"name": name, "holder": holder, "expires_at": now + ttl}
    )


def claim_slot(session: Session, name: str, holder: str, slot: int) -> bool:
    """Mark ``slot`` of the job as run by ``holder``; False if it (or a later one) already ran."""
    claimed = session.connection().execute(
        update(JobLease)
        .where(
            JobLease.name == name,  # type: ignore[arg-type]
            JobLease.holder == holder,  # type: ignore[arg-type]
            or_(col(JobLease.last_slot).is_(None), col(JobLease.last_slot) < slot),
        )
        .values(last_slot=slot)
    )
    return bool(claimed.rowcount)


def try_run_slot(
    engine: Engine, name: str, holder: str, now: datetime, ttl: timedelta, slot: int | None
) -> bool:
    """In one transaction: hold the lease and, when ``slot`` is given, claim that slot."""
    with session_scope(engine) as session:
        if not acquire(session, name, holder, now, ttl):
            return False
        return slot is None or claim_slot(session, name, holder, slot)


def release_all(engine: Engine, holder: str) -> None:
    """Give up every lease of ``holder`` (at shutdown), so others need not wait for expiry."""
    with session_scope(engine) as session:
        session.connection().execute(
            update(JobLease)
            .where(JobLease.holder == holder)  # type: ignore[arg-type]
            .values(expires_at=_LONG_AGO)
        )


class ReplicaLeases:
    """One replica's leases: taken one at a time, and none once they are given up.

    A scheduler tick that is taking a lease in its thread when the daemon stops is not
    stopped with it: it could commit the lease after :meth:`release_all`, and the next
    replica (or the same one restarted) would wait a whole lease for the job, 30 s for a
    poller. Here a lease is taken either before the release or not at all.
    """

    def __init__(self, engine: Engine, holder: str) -> None:
        self.engine = engine
        self.holder = holder
        self._lock = threading.Lock()
        self._released = False

    def try_run_slot(self, name: str, now: datetime, ttl: timedelta, slot: int | None) -> bool:
        """:func:`try_run_slot` for this replica; False once its leases are given up."""
        with self._lock:
            return not self._released and try_run_slot(
                self.engine, name, self.holder, now, ttl, slot
            )

    def release_all(self) -> None:
        """Give up every lease of this replica for good (at shutdown)."""
        with self._lock:
            self._released = True
            release_all(self.engine, self.holder)
