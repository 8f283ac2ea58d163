"""Group commit: concurrent webhooks share commits, each waits for its own, none is lost."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, func, select

from sportello.inbox.db import write_lock
from sportello.inbox.journal_writer import JournalWriter
from sportello.inbox.models import Delivery

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _count(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(Delivery)).one()


async def test_concurrent_deliveries_are_each_stored_once(engine: Engine) -> None:
    writer = JournalWriter(engine, write_lock(engine))
    writer.start()
    bodies = [f'{{"update_id": {n}}}'.encode() for n in range(300)]
    redelivered = bodies[:40]  # the platform sends some twice, at the same moment
    await asyncio.gather(
        *(
            writer.append(channel="telegram", body=body, received_at=NOW, platform_key=None)
            for body in bodies + redelivered
        )
    )
    await writer.stop()
    assert _count(engine) == 300


async def test_a_failed_commit_fails_every_waiting_request_and_stores_nothing(
    engine: Engine,
) -> None:
    writer = JournalWriter(engine, write_lock(engine))
    writer.start()
    good = writer.append(channel="telegram", body=b'{"update_id": 1}', received_at=NOW)
    broken = writer.append(channel=None, body=b'{"update_id": 2}', received_at=NOW)  # type: ignore[arg-type]
    results = await asyncio.gather(good, broken, return_exceptions=True)
    await writer.stop()
    assert all(isinstance(result, Exception) for result in results)
    assert _count(engine) == 0


async def test_stopping_commits_what_is_queued(engine: Engine) -> None:
    writer = JournalWriter(engine, write_lock(engine))
    writer.start()
    appends = [
        asyncio.create_task(
            writer.append(channel="x", body=f'{{"n": {n}}}'.encode(), received_at=NOW)
        )
        for n in range(50)
    ]
    await asyncio.sleep(0)  # queued, not yet committed
    await writer.stop()
    await asyncio.gather(*appends)
    assert _count(engine) == 50


async def test_a_journaled_delivery_reads_back_as_it_was_received(engine: Engine) -> None:
    writer = JournalWriter(engine, write_lock(engine))
    writer.start()
    body = '{"update_id": 7, "message": {"text": "è arrivato"}}'.encode()
    headers = {"content-type": "application/json", "x-hub-signature-256": "sha256=ab", "host": "h"}
    await writer.append(
        channel="telegram", body=body, received_at=NOW, headers=headers, platform_key="update:7"
    )
    await writer.stop()
    with Session(engine) as session:
        stored = session.exec(select(Delivery)).one()
    assert (stored.channel, stored.source, stored.dedup_key) == ("telegram", "webhook", "update:7")
    assert stored.body == body
    assert stored.headers == {
        "content-type": "application/json",
        "x-hub-signature-256": "sha256=ab",
    }
    assert stored.received_at == NOW and stored.received_at.tzinfo is not None
    assert (stored.state, stored.attempts, stored.events) == ("pending", 0, 0)


async def test_a_connection_the_server_dropped_is_replaced_without_failing_the_delivery(
    engine: Engine,
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: the server ends the writer's connection")
    writer = JournalWriter(engine, write_lock(engine))
    writer.start()
    await writer.append(channel="telegram", body=b'{"update_id": 1}', received_at=NOW)
    with engine.connect() as admin:
        ended = admin.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).all()
    assert ended  # the writer's connection among them
    await writer.append(channel="telegram", body=b'{"update_id": 2}', received_at=NOW)
    await writer.stop()
    assert _count(engine) == 2
