"""SLA deadlines, warnings and breaches, the inbox order, and the 24-hour window watch."""

from __future__ import annotations

from datetime import datetime, timedelta

from automation_helpers import OFFICE, bot_messages, inbound, migrated, rome
from plan_helpers import statements_run
from sqlalchemy import event
from sqlmodel import Session, select

from sportello.config.settings import SlaSettings, WindowReminderSettings, load_settings
from sportello.daemon import Daemon
from sportello.inbox import sla
from sportello.inbox.automation_tables import SlaBreach
from sportello.inbox.business_hours import BusinessCalendar
from sportello.inbox.clock import FrozenClock
from sportello.inbox.db import migrate, session_scope
from sportello.inbox.erasure import erase_customer
from sportello.inbox.ingest import ingest
from sportello.inbox.models import Conversation, ConversationTag, Customer
from sportello.inbox.outbox import queue
from sportello.inbox.triage import inbox_page
from sportello.listening.alerts import alert_sla_breaches, resolve_answered_sla_alerts
from sportello.listening.models import Alert
from sportello.scheduler import periodic_jobs

CALENDAR = BusinessCalendar.from_dict(OFFICE)
POLICY = SlaSettings(first_response="1h", resolution="1d", warn_before="15m")


def _opened(
    session: Session, at: datetime, channel: str = "telegram", user: str = "u1"
) -> Conversation:
    ingested = ingest(session, [inbound(channel, f"{channel}:{user}:{at}", at, user=user)], now=at)
    return ingested.new_messages[0][1]


def test_calendar_time_counts_weekends_and_business_time_does_not() -> None:
    sunday = rome(2026, 12, 6, 10)
    conversation = Conversation(
        channel="telegram", thread_external_id="t", customer_id=1, recipient_external_id="u",
        opened_at=sunday, status="open",
    )  # fmt: skip
    due = {d.kind: d.due_at for d in sla.deadlines(conversation, POLICY, CALENDAR)}
    assert due == {"first_response": rome(2026, 12, 6, 11), "resolution": rome(2026, 12, 7, 10)}
    business = POLICY.model_copy(update={"business_time": True})
    due = {d.kind: d.due_at for d in sla.deadlines(conversation, business, CALENDAR)}
    # first response: Monday 09:00 + 1h; resolution: "1d" is 24 open hours: Monday 9,
    # Wednesday 9 (Tuesday 8 is a holiday), Thursday 6
    assert due == {"first_response": rome(2026, 12, 7, 10), "resolution": rome(2026, 12, 10, 15)}


def test_business_time_across_the_spring_dst_switch() -> None:
    friday = rome(2026, 3, 27, 17, 30)
    due = sla.add_business_time(CALENDAR, friday, 2 * 3600)
    assert due == rome(2026, 3, 30, 10, 30)  # 30 min Friday + 90 min Monday, now in CEST
    assert due.hour == 8  # UTC


def test_warning_then_breach_once_each_and_cleared_by_an_answer(database_url: str) -> None:
    engine = migrated(database_url)
    start = rome(2026, 12, 6, 10)
    with session_scope(engine) as session:
        conversation_id = _opened(session, start).id
    at = {"quiet": start + timedelta(minutes=30), "warn": start + timedelta(minutes=46)}
    with session_scope(engine) as session:
        assert sla.check(session, at["quiet"], [POLICY], CALENDAR) == []
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        assert conversation.sla_due_at == rome(2026, 12, 6, 11)
    with session_scope(engine) as session:
        fired = sla.check(session, at["warn"], [POLICY], CALENDAR)
        assert [(f.kind, f.level) for f in fired] == [("first_response", "warning")]
        assert sla.check(session, at["warn"], [POLICY], CALENDAR) == []  # no repeat
    with session_scope(engine) as session:
        fired = sla.check(session, start + timedelta(hours=2), [POLICY], CALENDAR)
        assert [(f.kind, f.level) for f in fired] == [("first_response", "breach")]
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        queue(session, conversation, "Eccoci!", now=start + timedelta(hours=2))
    with session_scope(engine) as session:
        assert sla.check(session, start + timedelta(hours=3), [POLICY], CALENDAR) == []
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        assert conversation.sla_due_at == rome(2026, 12, 7, 10)  # now the resolution deadline
        conversation.status = "resolved"
    with session_scope(engine) as session:
        sla.check(session, start + timedelta(days=3), [POLICY], CALENDAR)
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None and conversation.sla_due_at is None
        counts = sla.breach_counts(session, start, start + timedelta(days=1))
        assert counts == {
            "first_response": 1, "resolution": 0, "total": 1, "warnings": 1, "window_closing": 0,
        }  # fmt: skip
        assert (
            sla.breach_counts(session, start, start + timedelta(days=1), "whatsapp")["total"] == 0
        )
        assert [b.level for b in sla.fired_after(session, None)] == ["warning", "breach"]
    engine.dispose()


def test_a_repeated_check_writes_nothing_for_what_it_fired_before(database_url: str) -> None:
    """A backlog of overdue conversations used to cost one insert per deadline at every
    check, and a pass of the flush over every active conversation; and after an outage, a
    statement for each deadline that passed meanwhile (docs/benchmarks.md, session 25)."""
    engine = migrated(database_url)
    start = rome(2026, 12, 6, 10)
    with session_scope(engine) as session:
        for user in ("u1", "u2", "u3"):
            _opened(session, start, user=user)
    late = start + timedelta(days=2)
    with (
        session_scope(engine) as session,
        statements_run(engine, "INSERT INTO sla_breaches") as stored,
    ):
        fired = sla.check(session, late, [POLICY], CALENDAR)
    assert len(fired) == 6  # both deadlines of each, breached
    assert len(stored) == 1  # together, not one statement each
    flushed: list[object] = []
    with session_scope(engine) as session, statements_run(engine, "INSERT") as inserts:
        event.listen(session, "before_flush", lambda s, *_: flushed.extend(s.dirty | s.new))
        assert sla.check(session, late + timedelta(minutes=1), [POLICY], CALENDAR) == []
    assert (inserts, flushed) == ([], [])
    engine.dispose()


def test_overdue_conversations_come_first_in_the_inbox(database_url: str) -> None:
    engine = migrated(database_url)
    start = rome(2026, 12, 6, 10)
    now = start + timedelta(minutes=65)
    urgent = SlaSettings(name="urgent", priorities=[3], first_response="30m")
    with session_scope(engine) as session:
        calm = _opened(session, start, user="calm")  # priority 0, 1h target: overdue at 11:00
        late = _opened(session, start, user="late")  # priority 3, 30m target: overdue at 10:30
        hurried = _opened(session, start + timedelta(minutes=50), user="hurried")  # due 11:20
        late.priority = hurried.priority = 3
        session.flush()
        sla.check(session, now, [urgent, POLICY], CALENDAR)
        session.flush()
        ordered = inbox_page(session, select(Conversation), now, 0, 10)
        assert [c.id for c in ordered] == [late.id, calm.id, hurried.id]
        assert [c.id for c in inbox_page(session, select(Conversation), now, 1, 1)] == [calm.id]
        assert [c.id for c in inbox_page(session, select(Conversation), now, 2, 5)] == [hurried.id]
        breaches = session.exec(sla.breaches_query(level="breach"))
        assert late.id is not None and calm.id is not None
        assert sorted(b.conversation_id for b in breaches) == sorted([late.id, calm.id])
    engine.dispose()


def test_whatsapp_window_about_to_close_alerts_once_and_can_remind(database_url: str) -> None:
    engine = migrated(database_url)
    wrote = rome(2026, 12, 6, 10)
    settings = WindowReminderSettings(
        before="1h", action="remind", text={"it": "{name}, ci sei ancora? Rispondi per continuare."}
    )
    with session_scope(engine) as session:
        waiting = _opened(session, wrote, channel="whatsapp", user="39333").id
        answered = _opened(session, wrote, channel="whatsapp", user="39444")
        queue(session, answered, "Risolto!", now=wrote + timedelta(hours=1))
        _opened(session, wrote, channel="telegram", user="tg")  # no 24h window on Telegram
    with session_scope(engine) as session:
        assert sla.check_windows(session, wrote + timedelta(hours=22), settings, "it") == []
    with session_scope(engine) as session:
        fired = sla.check_windows(session, wrote + timedelta(hours=23, minutes=5), settings, "it")
        assert [(f.conversation_id, f.kind, f.due_at) for f in fired] == [
            (waiting, "window_closing", wrote + timedelta(hours=24))
        ]
        assert (
            sla.check_windows(session, wrote + timedelta(hours=23, minutes=30), settings, "it")
            == []
        )
    with Session(engine) as session:
        tags = session.exec(select(ConversationTag.conversation_id, ConversationTag.tag)).all()
        assert tags == [(waiting, "window-closing")]
        reminder = bot_messages(session)
        assert [(m.conversation_id, m.text) for m in reminder] == [
            (waiting, "Giulia, ci sei ancora? Rispondi per continuare.")
        ]
    with session_scope(engine) as session:  # the customer writes again: a new window
        ingest(
            session,
            [inbound("whatsapp", "again", wrote + timedelta(hours=23, minutes=40), user="39333")],
            now=wrote,
        )
        sla.check_windows(session, wrote + timedelta(hours=23, minutes=45), settings, "it")
    with Session(engine) as session:
        assert session.exec(select(ConversationTag)).all() == []
        assert len(session.exec(select(SlaBreach)).all()) == 1
    engine.dispose()


async def test_a_breach_becomes_an_alert_for_the_sinks_once(database_url: str) -> None:
    start = rome(2026, 12, 6, 10)
    clock = FrozenClock(start)
    settings = load_settings(
        None,
        database={"url": database_url},
        sla=[{"name": "standard", "first_response": "1h", "resolution": None}],
    )
    daemon = Daemon(settings, clock=clock)
    migrate(daemon.engine)
    daemon.seed_settings()
    with session_scope(daemon.engine) as session:
        late = _opened(session, start, user="late").id
    check = next(job for job in periodic_jobs(daemon) if job.name == "sla:check")
    clock.set(start + timedelta(minutes=50))
    await check.work()  # a warning: it stays in the inbox, no alert
    clock.set(start + timedelta(minutes=61))
    await check.work()
    clock.set(start + timedelta(minutes=62))
    await check.work()
    with Session(daemon.engine) as session:
        alerts = session.exec(select(Alert).where(Alert.kind == "sla_breach")).all()
    assert len(alerts) == 1
    assert alerts[0].details["conversation_id"] == late
    assert alerts[0].title.startswith("SLA breach: first response on telegram")
    assert alerts[0].state == "firing"

    with session_scope(daemon.engine) as session:  # the agent answers at last
        conversation = session.get(Conversation, late)
        assert conversation is not None
        queue(session, conversation, "Scusi l'attesa!", now=clock.now())
    clock.set(start + timedelta(minutes=63))
    await check.work()
    await check.work()
    with Session(daemon.engine) as session:
        (alert,) = session.exec(select(Alert).where(Alert.kind == "sla_breach")).all()
    daemon.engine.dispose()
    assert (alert.state, alert.resolved_at) == ("resolved", start + timedelta(minutes=63))
    assert alert.details["at_resolution"] == {"conversation": "open"}


def test_a_resolution_breach_alert_resolves_with_the_conversation_or_its_erasure(
    database_url: str,
) -> None:
    engine = migrated(database_url)
    start = rome(2026, 12, 6, 10)
    policy = SlaSettings(first_response=None, resolution="2h")
    with session_scope(engine) as session:  # two customers: no shared phone to link them
        kept, erased = (
            ingest(
                session,
                [inbound("telegram", user, start, user=user, phone=None, name=user)],
                now=start,
            )
            .new_messages[0][1]
            .id
            for user in ("kept", "erased")
        )
    with session_scope(engine) as session:
        breaches = sla.check(session, start + timedelta(hours=3), [policy], CALENDAR)
        assert alert_sla_breaches(session, breaches, start + timedelta(hours=3)) == 2
        kept_conversation = session.get(Conversation, kept)
        assert kept_conversation is not None
        queue(session, kept_conversation, "Risolto?", now=start)
        assert resolve_answered_sla_alerts(session, start + timedelta(hours=3)) == 0
    with session_scope(engine) as session:
        kept_conversation = session.get(Conversation, kept)
        assert kept_conversation is not None
        kept_conversation.status = "resolved"
        erased_conversation = session.get(Conversation, erased)
        assert erased_conversation is not None
        customer = session.get(Customer, erased_conversation.customer_id)
        assert customer is not None
        erase_customer(session, customer, at=start + timedelta(hours=4), actor="admin")
    with session_scope(engine) as session:
        assert resolve_answered_sla_alerts(session, start + timedelta(hours=4)) == 2
        assert resolve_answered_sla_alerts(session, start + timedelta(hours=5)) == 0
        cleared = {
            a.details["conversation_id"]: a.details["at_resolution"]
            for a in session.exec(select(Alert).where(Alert.state == "resolved"))
        }
    engine.dispose()
    assert cleared == {kept: {"conversation": "resolved"}, erased: {"conversation": "gone"}}
