"""The SLA check looks only at the conversations whose next instant has come.

Reading every active conversation at every check took 0.3-0.5 s a minute at 1M messages
(docs/benchmarks.md). Each conversation now keeps in ``sla_check_at`` when a check is next to
look at it; every flush that changes what its deadlines depend on marks it
(``CLOCK_CHANGED``), and a check reads everything only on the daemon's first run, after a
change of the policies or the business hours, and once an hour.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from automation_helpers import OFFICE, inbound, migrated, rome
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from sportello import scheduler
from sportello.config.settings import BusinessHoursSettings, SlaSettings, load_settings
from sportello.daemon import Daemon
from sportello.inbox import settings_store, sla
from sportello.inbox.automation_tables import SlaBreach
from sportello.inbox.business_hours import BusinessCalendar
from sportello.inbox.clock import FrozenClock
from sportello.inbox.conversations import note_customer_message, set_status
from sportello.inbox.db import migrate, session_scope
from sportello.inbox.ingest import ingest
from sportello.inbox.models import CLOCK_CHANGED, Conversation
from sportello.inbox.outbox import queue
from sportello.inbox.teams import delete_team, find_team, save_team
from sportello.inbox.triage_key import triage_key

START = rome(2026, 12, 7, 10)  # a Monday
CALENDAR = BusinessCalendar.from_dict(OFFICE)
STANDARD = SlaSettings(name="standard", first_response="1h", resolution="1d", warn_before="15m")
URGENT = SlaSettings(name="urgent", priorities=[3], first_response="20m", warn_before=None)


def _open(engine: Engine, *users: str, at: datetime = START) -> list[int]:
    with session_scope(engine) as session:
        ingested = ingest(session, [inbound("telegram", u, at, user=u) for u in users], now=at)
        return [c.id for _, c in ingested.new_messages if c.id is not None]


def _stored(engine: Engine, conversation_id: int) -> Conversation:
    with Session(engine) as session:
        conversation = session.get(Conversation, conversation_id)
    assert conversation is not None
    return conversation


def _check(engine: Engine, at: datetime, *, everything: bool = False) -> list[tuple[str, str]]:
    with session_scope(engine) as session:
        fired = sla.check(session, at, [URGENT, STANDARD], CALENDAR, everything=everything)
        return sorted((f.kind, f.level) for f in fired)


Change = Callable[[Session, Conversation, Conversation, Conversation], object]


def test_each_change_of_a_deadlines_inputs_marks_the_conversation(database_url: str) -> None:
    engine = migrated(database_url)
    ids = _open(engine, "u1", "u2", "u3")
    assert {_stored(engine, id_).sla_check_at for id_ in ids} == {CLOCK_CHANGED}  # new
    warning = START + timedelta(minutes=45)
    later = START + timedelta(minutes=10)

    def changed(change: Change) -> list[datetime | None]:
        _check(engine, later, everything=True)  # every one looked at: none marked
        with session_scope(engine) as session:
            one, two, three = (session.get(Conversation, id_) for id_ in ids)
            assert one is not None and two is not None and three is not None
            change(session, one, two, three)
        return [_stored(engine, id_).sla_check_at for id_ in ids]

    assert changed(lambda s, one, *_: setattr(one, "title", "x")) == [warning] * 3  # no input
    replied = changed(lambda s, one, *_: queue(s, one, "Eccoci", now=later))
    assert replied == [CLOCK_CHANGED, warning, warning]

    def raise_the_middle_one(
        _: Session, one: Conversation, two: Conversation, three: Conversation
    ) -> None:
        """Rows changed in two ways, alternating: ``conversation_updates`` writes them."""
        one.title = three.title = "y"
        two.priority = 3

    resolution_warning = START + timedelta(hours=23, minutes=45)  # one was answered before
    urgent = START + timedelta(minutes=20)  # two's first response, urgent now
    assert changed(raise_the_middle_one) == [resolution_warning, CLOCK_CHANGED, warning]
    resolved = changed(lambda s, one, *_: set_status(s, one, "resolved", later))
    assert resolved == [CLOCK_CHANGED, urgent, warning]
    back = changed(lambda s, one, *_: note_customer_message(s, one, later))
    assert back == [CLOCK_CHANGED, urgent, warning]
    engine.dispose()


def test_checks_that_look_only_at_what_came_due_fire_every_warning_and_breach(
    database_url: str,
) -> None:
    engine = migrated(database_url)
    calm, raised, answered, resolved = _open(engine, "calm", "raised", "answered", "resolved")
    assert _check(engine, START + timedelta(minutes=5), everything=True) == []
    with session_scope(engine) as session:
        for id_, change in (
            (raised, lambda c: setattr(c, "priority", 3)),  # now due at 10:20: late
            (answered, lambda c: queue(session, c, "Eccoci", now=START + timedelta(minutes=30))),
            (resolved, lambda c: set_status(session, c, "resolved", START)),
        ):
            conversation = session.get(Conversation, id_)
            assert conversation is not None
            change(conversation)
    assert _check(engine, START + timedelta(minutes=30)) == [("first_response", "breach")]
    assert _check(engine, START + timedelta(minutes=31)) == []
    assert _check(engine, START + timedelta(minutes=50)) == [("first_response", "warning")]
    assert _check(engine, START + timedelta(hours=2)) == [("first_response", "breach")]
    # calm's and answered's; the urgent policy has no resolution target
    assert _check(engine, START + timedelta(hours=23, minutes=50)) == 2 * [
        ("resolution", "warning")
    ]
    assert _check(engine, START + timedelta(hours=24)) == 2 * [("resolution", "breach")]
    with Session(engine) as session:
        per_conversation = session.exec(select(SlaBreach.conversation_id, SlaBreach.kind)).all()
    assert {id_ for id_, _ in per_conversation} == {calm, raised, answered}
    assert _stored(engine, resolved).sla_due_at is None
    assert _stored(engine, calm).sla_check_at is None  # nothing more to fire
    engine.dispose()


def test_a_conversation_changed_after_the_check_read_it_is_looked_at_again(
    database_url: str,
) -> None:
    engine = migrated(database_url)
    (conversation_id,) = _open(engine, "u1")
    now = START + timedelta(minutes=5)
    with Session(engine) as session:
        plan = sla.plan_check(session, now, [STANDARD], CALENDAR, everything=False)
    assert [row["row_id"] for row in plan.moved] == [conversation_id]
    with session_scope(engine) as session:  # an agent answers meanwhile
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        queue(session, conversation, "Eccoci", now=now)
    with session_scope(engine) as session:
        sla.apply_check(session, plan)
    stored = _stored(engine, conversation_id)
    assert (stored.sla_check_at, stored.sla_due_at) == (CLOCK_CHANGED, None)  # not the plan's
    assert _check(engine, now) == []
    stored = _stored(engine, conversation_id)
    assert stored.sla_check_at == START + timedelta(hours=23, minutes=45)
    assert stored.sla_due_at == START + timedelta(days=1)
    engine.dispose()


def test_a_plan_whose_conversation_changed_otherwise_looks_again(database_url: str) -> None:
    """A new sentiment moves no deadline, so nothing marks the conversation; but the plan
    would store an inbox order computed without it: it stores nothing and looks again."""
    engine = migrated(database_url)
    (conversation_id,) = _open(engine, "u1")
    _check(engine, START, everything=True)
    assert _stored(engine, conversation_id).sla_check_at == START + timedelta(minutes=45)
    tighter = STANDARD.model_copy(update={"first_response": "20m"})
    now = START + timedelta(minutes=1)
    with Session(engine) as session:  # the policies changed: a sweep
        plan = sla.plan_check(session, now, [tighter], CALENDAR, everything=True)
    with session_scope(engine) as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        conversation.latest_sentiment = -0.7
    with session_scope(engine) as session:
        sla.apply_check(session, plan)
    assert _stored(engine, conversation_id).sla_check_at == CLOCK_CHANGED
    with session_scope(engine) as session:
        sla.check(session, now, [tighter], CALENDAR, everything=False)
    assert _stored(engine, conversation_id).sla_check_at == START + timedelta(minutes=5)
    engine.dispose()


def test_a_teams_policy_applies_once_a_conversation_is_given_to_the_team(
    database_url: str,
) -> None:
    """Giving the conversation to a team, and deleting the team, move its deadlines at the
    next check that looks only at what changed."""
    engine = migrated(database_url)
    billing = SlaSettings(name="billing", teams=["billing"], first_response="10m", warn_before=None)
    policies = [billing, STANDARD]

    def check(at: datetime, *, everything: bool = False) -> list[tuple[str, str]]:
        with session_scope(engine) as session:
            fired = sla.check(session, at, policies, CALENDAR, everything=everything)
            return [(f.kind, f.policy or "") for f in fired]

    with session_scope(engine) as session:
        save_team(session, "billing", [], START)
    (conversation_id,) = _open(engine, "u1")
    assert check(START + timedelta(minutes=1), everything=True) == []
    assert _stored(engine, conversation_id).sla_due_at == START + timedelta(hours=1)
    with session_scope(engine) as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        conversation.team = "billing"
    assert check(START + timedelta(minutes=11)) == [("first_response", "billing")]
    with session_scope(engine) as session:
        team = find_team(session, "billing")
        assert team is not None
        delete_team(session, team, START + timedelta(minutes=12), "admin")
    assert check(START + timedelta(minutes=13)) == []
    assert _stored(engine, conversation_id).sla_due_at == START + timedelta(hours=1)  # standard
    engine.dispose()


def test_a_conversation_loaded_before_the_check_sees_what_the_check_wrote(
    database_url: str,
) -> None:
    """The check writes with Core statements: a caller's loaded conversation is read again,
    so that its next flush does not write an inbox order from the old deadline."""
    engine = migrated(database_url)
    (conversation_id,) = _open(engine, "u1")
    with session_scope(engine) as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None and conversation.sla_due_at is None
        sla.check(session, START, [STANDARD], CALENDAR)
        assert conversation.sla_due_at == START + timedelta(hours=1)
        conversation.title = "renamed"  # a flush recomputes the inbox order
    stored = _stored(engine, conversation_id)
    assert stored.triage_key == triage_key(
        waiting_since=stored.waiting_since,
        priority=stored.priority,
        sla_due_at=START + timedelta(hours=1),
        latest_sentiment=stored.latest_sentiment,
        last_message_at=stored.last_message_at,
    )
    engine.dispose()


def test_a_change_around_the_orm_is_caught_by_the_next_sweep(database_url: str) -> None:
    engine = migrated(database_url)
    (conversation_id,) = _open(engine, "u1")
    _check(engine, START, everything=True)
    with engine.begin() as connection:  # no flush: nothing marks it
        connection.execute(
            update(Conversation).where(col(Conversation.id) == conversation_id).values(priority=3)
        )
    assert _check(engine, START + timedelta(minutes=30)) == []
    assert _check(engine, START + timedelta(minutes=31), everything=True) == [
        ("first_response", "breach")
    ]
    engine.dispose()


def test_a_sweep_is_due_first_then_hourly_and_whenever_the_settings_change() -> None:
    sweeps = sla.Sweeps()
    policies = [STANDARD]
    assert sweeps.due(START, policies, CALENDAR)
    sweeps.done(START, policies, CALENDAR)
    assert not sweeps.due(START + timedelta(minutes=59), [STANDARD.model_copy()], CALENDAR)
    assert sweeps.due(START + timedelta(hours=1), policies, CALENDAR)
    assert sweeps.due(START - timedelta(minutes=1), policies, CALENDAR)  # the clock went back
    assert sweeps.due(START, [STANDARD.model_copy(update={"first_response": "30m"})], CALENDAR)
    assert sweeps.due(START, [URGENT, STANDARD], CALENDAR)
    closed = OFFICE | {"closures": ["2026-12-24"]}
    assert sweeps.due(START, policies, BusinessCalendar.from_dict(closed))
    assert not sweeps.due(START, policies, BusinessCalendar.from_dict(OFFICE))


@pytest.fixture
def daemon(database_url: str) -> Iterator[Daemon]:
    settings = load_settings(None, database={"url": database_url}, sla=[STANDARD.model_dump()])
    running = Daemon(settings, clock=FrozenClock(START))
    migrate(running.engine)
    running.seed_settings()
    yield running
    running.engine.dispose()


def test_the_daemon_reads_everything_again_when_the_policies_or_the_hours_change(
    daemon: Daemon,
) -> None:
    ids = _open(daemon.engine, "u1", "u2")
    assert scheduler.check_service_levels(daemon, START + timedelta(minutes=10)) == 0
    assert scheduler.check_service_levels(daemon, START + timedelta(minutes=11)) == 0
    with session_scope(daemon.engine) as session:
        tighter = STANDARD.model_copy(update={"first_response": "5m"})
        settings_store.set_sla_policies(session, [tighter], START, "admin")
    assert scheduler.check_service_levels(daemon, START + timedelta(minutes=12)) == 2

    def due_at(hours: BusinessHoursSettings, at: datetime) -> set[datetime | None]:
        with session_scope(daemon.engine) as session:
            settings_store.set_business_hours(session, hours, START, "admin")
        assert scheduler.check_service_levels(daemon, at) == 0
        return {_stored(daemon.engine, id_).sla_due_at for id_ in ids}

    office = BusinessHoursSettings.model_validate(OFFICE)
    resolution = SlaSettings(resolution="2h", first_response=None, business_time=True)
    with session_scope(daemon.engine) as session:
        settings_store.set_sla_policies(session, [resolution], START, "admin")
    assert due_at(office, START + timedelta(minutes=13)) == {START + timedelta(hours=2)}
    closed = office.model_copy(update={"closures": ["2026-12-07T11:00/2026-12-07T12:00"]})
    assert due_at(closed, START + timedelta(minutes=14)) == {START + timedelta(hours=3)}
