"""Periodic jobs under database leases: one replica per job, one run per slot, hand-over."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

from automation_helpers import (
    inbound,
    migrated,
    rome,
)
from conftest import make_settings
from sqlmodel import Session, select

from sportello.config.settings import RetentionSettings
from sportello.daemon import Daemon
from sportello.inbox import leases
from sportello.inbox.clock import FrozenClock
from sportello.inbox.conversations import set_status
from sportello.inbox.db import session_scope
from sportello.inbox.housekeeping import trim_deliveries
from sportello.inbox.ingest import ingest
from sportello.inbox.models import Conversation, Delivery
from sportello.scheduler import PeriodicJob, periodic_jobs, run_job


def _counting_job(runs: list[str], name: str = "test:job", interval: float = 60) -> PeriodicJob:
    async def work() -> None:
        runs.append(name)

    return PeriodicJob(name, interval, work)


def test_lease_is_exclusive_until_it_expires(database_url: str) -> None:
    engine = migrated(database_url)
    now = rome(2026, 12, 6, 10)
    ttl = timedelta(minutes=3)
    with session_scope(engine) as session:
        assert leases.acquire(session, "sla:check", "a", now, ttl)
    with session_scope(engine) as session:
        assert not leases.acquire(session, "sla:check", "b", now + timedelta(minutes=2), ttl)
        assert leases.acquire(session, "sla:check", "a", now + timedelta(minutes=2), ttl)  # renew
    with session_scope(engine) as session:  # a dies: its lease runs out 3 minutes after renewal
        assert not leases.acquire(session, "sla:check", "b", now + timedelta(minutes=4), ttl)
        assert leases.acquire(session, "sla:check", "b", now + timedelta(minutes=6), ttl)
    with session_scope(engine) as session:
        assert not leases.acquire(session, "sla:check", "a", now + timedelta(minutes=7), ttl)
    engine.dispose()


def test_two_replicas_never_run_the_same_slot(database_url: str) -> None:
    """Two daemons on one database, their scheduler ticks racing for 20 slots."""
    clock = FrozenClock(rome(2026, 12, 6, 10))
    settings = make_settings(database_url)
    daemons = [Daemon(settings, clock=clock), Daemon(settings, clock=clock)]
    migrated(database_url).dispose()
    runs: list[str] = []
    jobs = [_counting_job(runs), _counting_job(runs)]
    ran_by: list[int] = []
    for _ in range(20):
        barrier = threading.Barrier(2)
        results: list[tuple[int, bool]] = []

        def tick(
            i: int,
            barrier: threading.Barrier = barrier,
            results: list[tuple[int, bool]] = results,
        ) -> None:
            barrier.wait(timeout=10)
            results.append((i, asyncio.run(run_job(daemons[i], jobs[i]))))

        threads = [threading.Thread(target=tick, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(r for _, r in results) == [False, True]
        ran_by.extend(i for i, r in results if r)
        clock.advance(60)
    assert len(runs) == 20
    assert set(ran_by) == {ran_by[0]}  # the lease holder keeps the job while it lives
    for daemon in daemons:
        daemon.engine.dispose()


def test_restart_does_not_rerun_a_slot_and_a_dead_replica_hands_over(sqlite_url: str) -> None:
    clock = FrozenClock(rome(2026, 12, 6, 10) + timedelta(seconds=5))
    settings = make_settings(sqlite_url)
    migrated(sqlite_url).dispose()
    runs: list[str] = []
    job = _counting_job(runs)
    first = Daemon(settings, clock=clock)
    assert asyncio.run(run_job(first, job))
    restarted = Daemon(settings, clock=clock)  # same slot, a new process
    restarted.leases.holder = first.leases.holder  # e.g. the same replica name
    assert not asyncio.run(run_job(restarted, job))
    other = Daemon(settings, clock=clock)
    clock.advance(60)
    assert not asyncio.run(run_job(other, job))  # first still holds the lease
    clock.advance(job.lease_ttl)  # first died: no renewal for a whole lease
    assert asyncio.run(run_job(other, job))
    assert runs == ["test:job", "test:job"]
    for daemon in (first, restarted, other):
        daemon.engine.dispose()


def test_a_stopped_replica_takes_no_lease_and_hands_its_jobs_over_at_once(sqlite_url: str) -> None:
    """A tick still in flight when the daemon stops (its thread outlives the scheduler) must
    not take the lease after the daemon gave its leases up: the next daemon would wait a
    whole lease (30 s for a poller) before it could poll."""
    clock = FrozenClock(rome(2026, 12, 6, 10))
    settings = make_settings(sqlite_url)
    migrated(sqlite_url).dispose()
    runs: list[str] = []
    poller = PeriodicJob("poll:test", 0.2, _counting_job(runs).work, slotted=False)
    stopping = Daemon(settings, clock=clock)

    async def start_run_and_stop() -> None:
        await stopping.start()
        assert await run_job(stopping, poller)
        await stopping.stop()

    asyncio.run(start_run_and_stop())
    assert not asyncio.run(run_job(stopping, poller))  # the tick that was still running
    successor = Daemon(settings, clock=clock)
    assert asyncio.run(run_job(successor, poller))  # no lease to wait for
    assert runs == ["test:job", "test:job"]
    for daemon in (stopping, successor):
        daemon.engine.dispose()


def test_snoozed_conversations_wake_up_through_the_job(database_url: str) -> None:
    clock = FrozenClock(rome(2026, 12, 7, 10))
    daemon = Daemon(make_settings(database_url), clock=clock)
    migrated(database_url).dispose()
    with session_scope(daemon.engine) as session:
        ingested = ingest(session, [inbound("telegram", "tg:1", clock.now())], now=clock.now())
        conversation = ingested.new_messages[0][1]
        set_status(
            session, conversation, "snoozed", clock.now(), "agent", clock.now() + timedelta(hours=1)
        )
    snooze = next(j for j in periodic_jobs(daemon) if j.name == "snooze:wake")
    assert asyncio.run(run_job(daemon, snooze))
    with Session(daemon.engine) as session:
        assert session.exec(select(Conversation)).one().status == "snoozed"
    clock.advance(timedelta(hours=1))
    assert asyncio.run(run_job(daemon, snooze))
    with Session(daemon.engine) as session:
        woken = session.exec(select(Conversation)).one()
        assert woken.status == "open" and woken.snoozed_until is None
    daemon.engine.dispose()


def test_retention_drops_old_bodies_or_rows(database_url: str) -> None:
    engine = migrated(database_url)
    now = rome(2026, 12, 7, 10)
    with session_scope(engine) as session:
        for i, (age, state) in enumerate(
            [(40, "processed"), (40, "quarantined"), (5, "processed"), (41, "processed")]
        ):
            session.add(
                Delivery(
                    channel="telegram",
                    dedup_key=str(i),
                    body=b'{"update_id": 1}',
                    received_at=now - timedelta(days=age),
                    processed_at=now - timedelta(days=age),
                    state=state,
                )
            )
    with session_scope(engine) as session:
        assert trim_deliveries(session, now, RetentionSettings(deliveries_after="30d")) == 2
        assert trim_deliveries(session, now, RetentionSettings(deliveries_after="30d")) == 0
    with Session(engine) as session:
        bodies = {d.dedup_key: d.body for d in session.exec(select(Delivery))}
    assert bodies == {"0": b"", "1": b'{"update_id": 1}', "2": b'{"update_id": 1}', "3": b""}
    delete_all = RetentionSettings(deliveries_after="30d", deliveries_action="delete")
    with session_scope(engine) as session:
        assert trim_deliveries(session, now, delete_all) == 2
    with Session(engine) as session:
        assert sorted(d.dedup_key for d in session.exec(select(Delivery))) == ["1", "2"]
    engine.dispose()
