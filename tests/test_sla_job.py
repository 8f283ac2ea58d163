"""The SLA check as the daemon runs it: short write transactions, and none once nothing is new.

On SQLite every transaction that writes holds the one writer, and with it the journal's
commits that the webhooks' answers wait for. A catch-up over 15,000 overdue conversations
held it for 7 s, and a steady check warned again about every closing 24-hour window, then
read every firing breach alert, holding it for 0.4 s a minute (docs/benchmarks.md, session 26).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from automation_helpers import inbound, rome
from plan_helpers import write_transactions
from sqlmodel import Session, select

from sportello import scheduler
from sportello.config.settings import load_settings
from sportello.daemon import Daemon
from sportello.inbox.automation_tables import SlaBreach
from sportello.inbox.clock import FrozenClock
from sportello.inbox.db import migrate, session_scope
from sportello.inbox.ingest import ingest
from sportello.listening.models import Alert

START = rome(2026, 12, 7, 10)
SLA = [{"name": "standard", "first_response": "1h", "resolution": "1d"}]


@pytest.fixture
def desk(database_url: str) -> Iterator[tuple[Daemon, FrozenClock]]:
    """A daemon with an SLA policy and five conversations, one of them on WhatsApp."""
    clock = FrozenClock(START)
    daemon = Daemon(load_settings(None, database={"url": database_url}, sla=SLA), clock=clock)
    migrate(daemon.engine)
    daemon.seed_settings()
    with session_scope(daemon.engine) as session:
        for user in ("u1", "u2", "u3", "u4"):
            ingest(session, [inbound("telegram", user, START, user=user)], now=START)
        ingest(session, [inbound("whatsapp", "wa", START, user="39333")], now=START)
    yield daemon, clock
    daemon.engine.dispose()


async def test_a_catch_up_writes_a_few_conversations_per_transaction(
    desk: tuple[Daemon, FrozenClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    daemon, clock = desk
    monkeypatch.setattr(scheduler, "SLA_PART", 2)
    check = next(job for job in scheduler.periodic_jobs(daemon) if job.name == "sla:check")
    clock.set(START + timedelta(hours=23, minutes=30))  # every first response late
    with write_transactions(daemon.engine) as transactions:
        await check.work()
    breaches = [
        [row for statement, params in writes if "sla_breaches" in statement for row in params]
        for writes in transactions
    ]
    conversations = [{row["conversation_id"] for row in rows} for rows in breaches if rows]
    assert all(len(ids) <= 2 for ids in conversations), conversations
    assert len(set().union(*conversations)) == 5
    with Session(daemon.engine) as session:
        fired = session.exec(select(SlaBreach.kind, SlaBreach.level)).all()
        alerts = session.exec(select(Alert.key)).all()
    assert sorted(fired).count(("first_response", "breach")) == 5
    assert ("window_closing", "warning") in fired  # the WhatsApp customer's window
    assert len(alerts) == len(set(alerts)) == 5  # one per first-response breach


def test_a_catch_up_leaves_the_interpreter_to_the_others_as_long_as_each_part_took(
    desk: tuple[Daemon, FrozenClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    daemon, _ = desk
    monkeypatch.setattr(scheduler, "SLA_PART", 2)
    paces: list[float] = []
    fired = scheduler.check_service_levels(
        daemon, START + timedelta(hours=23, minutes=30), pace=paces.append
    )
    assert fired == 6  # five first responses late, one window closing
    assert len(paces) == 3 and all(pace > 0 for pace in paces)  # five conversations, by two


async def test_a_check_with_nothing_new_writes_nothing(desk: tuple[Daemon, FrozenClock]) -> None:
    daemon, clock = desk
    check = next(job for job in scheduler.periodic_jobs(daemon) if job.name == "sla:check")
    clock.set(START + timedelta(hours=23, minutes=30))
    await check.work()
    clock.set(START + timedelta(hours=23, minutes=31))  # the window is still closing
    with write_transactions(daemon.engine) as transactions:
        await check.work()
    assert transactions == []
