"""Stored timelines (migration 0012): current after every kind of change, and the report
they give is the report a fresh walk of the history gives."""

from __future__ import annotations

import asyncio
import importlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import make_settings
from kpi_fixtures import Inbox, hand_computed_inbox, office_hours, rome
from sqlalchemy import delete, event, func, text, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from sportello import scheduler
from sportello.bench.datagen import generate
from sportello.daemon import Daemon
from sportello.inbox.business_hours import BusinessCalendar
from sportello.inbox.conversations import set_status
from sportello.inbox.db import migrate, session_scope
from sportello.inbox.metrics import KpiQuery, compute_kpis, timeline_store
from sportello.inbox.metrics.history import STATUS_EVENTS
from sportello.inbox.metrics.timeline_tables import (
    ConversationTimeline,
    TimelineCase,
    TimelinePause,
    TimelineWait,
)
from sportello.inbox.models import Conversation, ConversationEvent, Message
from sportello.inbox.survey_tables import SurveyResponse
from sportello.scheduler import periodic_jobs, run_job

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _stale(engine: Engine) -> set[int]:
    with Session(engine) as session:
        return set(
            session.exec(
                select(ConversationTimeline.conversation_id).where(
                    ConversationTimeline.built_generation != ConversationTimeline.generation
                )
            )
        )


def _rows(engine: Engine, conversation_id: int) -> tuple[int, int, int]:
    with Session(engine) as session:
        return tuple(  # type: ignore[return-value]
            session.exec(
                select(func.count()).where(table.conversation_id == conversation_id)  # type: ignore[attr-defined]
            ).one()
            for table in (TimelineCase, TimelineWait, TimelinePause)
        )


def _queries() -> list[KpiQuery]:
    calendar = BusinessCalendar.always_open()
    offices = office_hours()
    queries = []
    for days, ago in ((7, 0), (30, 0), (60, 0), (14, 20), (400, 0)):
        end = NOW - timedelta(days=ago)
        for business, cal in ((False, calendar), (True, offices)):
            queries.append(
                KpiQuery(
                    start=end - timedelta(days=days),
                    end=end,
                    now=NOW,
                    calendar=cal,
                    business_time=business,
                )
            )
    queries.append(
        KpiQuery(start=NOW - timedelta(days=30), end=NOW, now=NOW, calendar=calendar, channel="x")
    )
    return queries


def _reports(engine: Engine) -> list[dict[str, Any]]:
    with Session(engine) as session:
        return [compute_kpis(session, query) for query in _queries()]


def test_stored_timelines_give_the_report_a_fresh_walk_gives(engine: Engine) -> None:
    generate(engine, customers=300, conversations=1_000, messages=5_000, seed=3, now=NOW)
    assert len(_stale(engine)) == 1_000
    walked = _reports(engine)
    assert timeline_store.refresh(engine, limit=400) == 400  # part stored, part walked
    assert _reports(engine) == walked
    assert timeline_store.refresh_all(engine) == 600
    assert _stale(engine) == set()
    assert _reports(engine) == walked
    assert walked[1]["cases"]["resolved"] > 100 and walked[3]["reply_time"]["count"] > 100


def test_periods_bounded_by_the_instants_things_happened_at(engine: Engine) -> None:
    """Each edge of the stored rows' queries (inclusive or not) agrees with the walk."""
    with session_scope(engine) as session:
        hand_computed_inbox(Inbox(session))
        instants = sorted(
            {*session.exec(select(Message.sent_at)), *session.exec(select(ConversationEvent.at))}
        )
    calendar = office_hours()
    queries = [
        KpiQuery(start=a, end=b, now=now, calendar=calendar, business_time=business)
        for n, a in enumerate(instants)
        for b in instants[n + 1 : n + 4]
        for now in (b, rome(12, 20, 12))
        for business in (False, True)
    ]

    def reports() -> list[dict[str, Any]]:
        with Session(engine) as session:
            return [compute_kpis(session, query) for query in queries]

    walked = reports()
    assert timeline_store.refresh_all(engine) == 4
    assert reports() == walked


def test_every_change_the_walk_reads_makes_the_timeline_stale(engine: Engine) -> None:
    with session_scope(engine) as session:
        inbox = Inbox(session)
        one = inbox.conversation("telegram", "1001", rome(12, 4, 10))
        two = inbox.conversation("telegram", "1002", rome(12, 4, 11))
        first, second = one.id, two.id
    assert first is not None and second is not None
    assert _stale(engine) == {first, second}
    assert timeline_store.refresh_all(engine) == 2
    assert _rows(engine, first) == (1, 1, 0)

    def changes(change: Callable[[Session], object]) -> set[int]:
        with session_scope(engine) as session:
            change(session)
        stale = _stale(engine)
        timeline_store.refresh_all(engine)
        return stale

    def conversation(session: Session, cid: int) -> Conversation:
        found = session.get(Conversation, cid)
        assert found is not None
        return found

    assert changes(lambda s: Inbox(s).reply(conversation(s, first), rome(12, 4, 10, 5))) == {first}
    assert _rows(engine, first) == (1, 1, 0)  # the wait got its reply
    assert changes(
        lambda s: set_status(s, conversation(s, first), "pending", rome(12, 4, 10, 6), "anna")
    ) == {first}
    assert _rows(engine, first) == (1, 1, 1)
    # an assignment is not a status: nothing the walk reads
    assert (
        changes(
            lambda s: s.add(
                ConversationEvent(conversation_id=first, kind="assigned", at=rome(12, 4, 10, 7))
            )
        )
        == set()
    )
    reply_id = _message_ids(engine, first, "out")[0]
    assert (
        changes(
            lambda s: s.exec(
                update(Message).where(col(Message.id) == reply_id).values(delivery_status="read")
            )
        )
        == set()
    )
    assert changes(
        lambda s: s.exec(
            update(Message).where(col(Message.id) == reply_id).values(delivery_status="failed")
        )
    ) == {first}
    answer_id = _customer_message(engine, "1002", rome(12, 4, 12))
    timeline_store.refresh_all(engine)
    assert changes(
        lambda s: s.add(SurveyResponse(message_id=answer_id, score=5, outcome="kept"))
    ) == {second}
    assert changes(
        lambda s: s.exec(
            update(Message).where(col(Message.id) == answer_id).values(conversation_id=first)
        )
    ) == {first, second}
    assert changes(lambda s: s.exec(delete(SurveyResponse))) == {first}
    assert changes(lambda s: s.exec(delete(Message).where(col(Message.id) == answer_id))) == {first}
    with session_scope(engine) as session:
        session.exec(
            delete(ConversationEvent).where(col(ConversationEvent.conversation_id) == second)
        )
        session.exec(delete(Message).where(col(Message.conversation_id) == second))
        session.exec(delete(Conversation).where(col(Conversation.id) == second))
    assert _rows(engine, second) == (0, 0, 0)
    with Session(engine) as session:
        assert session.get(ConversationTimeline, second) is None


def _message_ids(engine: Engine, cid: int, direction: str) -> list[int]:
    with Session(engine) as session:
        ids: list[int] = []
        for message_id in session.exec(
            select(col(Message.id)).where(
                Message.conversation_id == cid, Message.direction == direction
            )
        ):
            assert message_id is not None
            ids.append(message_id)
        return ids


def _customer_message(engine: Engine, user: str, at: datetime) -> int:
    with session_scope(engine) as session:
        message_id = Inbox(session).customer("telegram", user, at).new_messages[0][0].id
        assert message_id is not None
        return message_id


def test_a_change_committed_during_a_rebuild_leaves_the_timeline_stale(engine: Engine) -> None:
    with session_scope(engine) as session:
        cid = Inbox(session).conversation("telegram", "1001", rome(12, 4, 10)).id
    assert cid is not None

    @contextmanager
    def a_message_arrives_meanwhile() -> Iterator[None]:
        """Entered after the history was read, before the rebuild writes."""
        with session_scope(engine) as session:
            Inbox(session).customer("telegram", "1001", rome(12, 4, 10, 1))
        yield

    assert timeline_store.refresh(engine, write_lock=a_message_arrives_meanwhile()) == 0
    assert _stale(engine) == {cid}
    assert _rows(engine, cid) == (0, 0, 0)
    assert timeline_store.refresh(engine) == 1
    assert _stale(engine) == set()


def test_a_change_committed_just_before_the_claim_leaves_the_timeline_stale(
    engine: Engine,
) -> None:
    """The last moment: after the rebuild checked the generations, before it writes (on
    SQLite its check runs outside the write transaction; on PostgreSQL it locks the rows,
    so the change waits for the rebuild and bumps the generation after it)."""
    with session_scope(engine) as session:
        cid = Inbox(session).conversation("telegram", "1001", rome(12, 4, 10)).id
    assert cid is not None

    def write() -> None:
        with session_scope(engine) as session:
            Inbox(session).customer("telegram", "1001", rome(12, 4, 10, 1))

    writer = threading.Thread(target=write)

    def before_claim(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.startswith("UPDATE conversation_timelines") and writer.ident is None:
            writer.start()
            writer.join(timeout=2)  # SQLite: done; PostgreSQL: waits for the row lock

    event.listen(engine, "before_cursor_execute", before_claim)
    try:
        timeline_store.refresh(engine)
    finally:
        event.remove(engine, "before_cursor_execute", before_claim)
    writer.join()
    assert _stale(engine) == {cid}
    assert timeline_store.refresh(engine) == 1
    with Session(engine) as session:
        assert len(session.exec(select(Message)).all()) == 2
    assert _rows(engine, cid) == (1, 1, 0)


def test_the_daemon_keeps_the_timelines_current(database_url: str) -> None:
    daemon = Daemon(make_settings(database_url))
    migrate(daemon.engine)
    with session_scope(daemon.engine) as session:
        Inbox(session).conversation("telegram", "1001", rome(12, 4, 10))
    job = next(j for j in periodic_jobs(daemon) if j.name == "kpis:timelines")
    assert asyncio.run(run_job(daemon, job))
    assert _stale(daemon.engine) == set()
    with Session(daemon.engine) as session:
        assert (
            session.connection().execute(text("SELECT count(*) FROM timeline_cases")).one()[0] == 1
        )
    daemon.engine.dispose()


def test_the_daemon_rebuilds_timelines_between_webhooks(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before each batch the job waits for a moment without a webhook in flight."""
    monkeypatch.setattr(scheduler, "QUIET_YIELD_S", 60.0)
    daemon = Daemon(make_settings(database_url))
    migrate(daemon.engine)
    with session_scope(daemon.engine) as session:
        cid = Inbox(session).conversation("telegram", "1001", rome(12, 4, 10)).id
    assert cid is not None
    job = next(j for j in periodic_jobs(daemon) if j.name == "kpis:timelines")
    with ThreadPoolExecutor(max_workers=1) as pool:
        with daemon.intake.receiving():
            ran = pool.submit(asyncio.run, run_job(daemon, job))
            with pytest.raises(FutureTimeout):
                ran.result(timeout=0.5)  # without the wait, one timeline takes milliseconds
            assert _stale(daemon.engine) == {cid}
        assert ran.result(timeout=10)
    assert _stale(daemon.engine) == set()
    daemon.engine.dispose()


def test_the_pause_comes_before_each_batch(engine: Engine) -> None:
    generate(engine, customers=100, conversations=250, messages=600, seed=5, now=NOW)
    stale_at_each_pause: list[int] = []
    rebuilt = timeline_store.refresh_all(
        engine, pause=lambda: stale_at_each_pause.append(len(_stale(engine)))
    )
    assert rebuilt == 250
    assert stale_at_each_pause == list(range(250, 0, -timeline_store.BATCH))


def test_a_rebuild_skips_a_timeline_being_written_instead_of_waiting(engine: Engine) -> None:
    """PostgreSQL row locks: the job must never queue behind (or deadlock with) ingestion."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only (SQLite has one writer at a time)")
    with session_scope(engine) as session:
        inbox = Inbox(session)
        busy = inbox.conversation("telegram", "1001", rome(12, 4, 10)).id
        quiet = inbox.conversation("telegram", "1002", rome(12, 4, 11)).id
    assert quiet is not None
    with ThreadPoolExecutor(max_workers=1) as pool, Session(engine) as writer:
        Inbox(writer).customer("telegram", "1001", rome(12, 4, 12))  # bumps, holds the row
        rebuilt = pool.submit(timeline_store.refresh, engine)
        try:
            assert rebuilt.result(timeout=10) == 1  # a wait for the lock would time out
            assert _stale(engine) == {busy}
        finally:
            writer.commit()
    assert timeline_store.refresh(engine) == 1
    assert _stale(engine) == set() and _rows(engine, quiet) == (1, 1, 0)


def test_the_triggers_watch_every_status_the_walk_reads() -> None:
    """A status kind the walk reads but the triggers ignore would leave timelines stale."""
    migration = importlib.import_module(
        "sportello.inbox.migrations.versions.0012_conversation_timelines"
    )
    assert str(STATUS_EVENTS) == migration.STATUS_KINDS
