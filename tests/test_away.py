"""Away messages: the rule itself, and the hook that applies it once per customer."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from automation_helpers import (
    AWAY,
    OFFICE,
    bot_messages,
    configure,
    count,
    deliver,
    inbound,
    migrated,
    rome,
)
from sqlalchemy import Engine, event
from sqlmodel import Session, select

from sportello.config.settings import AwayMessageSettings
from sportello.inbox import settings_store
from sportello.inbox.away import AwayResponder, decide
from sportello.inbox.business_hours import BusinessCalendar
from sportello.inbox.clock import FrozenClock
from sportello.inbox.db import session_scope
from sportello.inbox.ingest import ingest
from sportello.inbox.models import Conversation, OutboxItem
from sportello.inbox.outbox import queue

CALENDAR = BusinessCalendar.from_dict(OFFICE)
RULES = [AwayMessageSettings.model_validate(AWAY)]


@pytest.mark.parametrize(
    ("at", "language", "reason", "next_open", "text"),
    [
        (  # Sunday morning: closed, opens Monday
            rome(2026, 12, 6, 10),
            "it",
            "closed: outside business hours",
            rome(2026, 12, 7, 9),
            "Ciao Giulia, siamo chiusi: ti rispondiamo da lunedì 7 dicembre alle 09:00.",
        ),
        (  # Tuesday 8 December is the Immacolata: a public holiday
            rome(2026, 12, 8, 10),
            "it",
            "closed: public holiday (Immaculate Conception)",
            rome(2026, 12, 9, 9),
            "Ciao Giulia, siamo chiusi: ti rispondiamo da mercoledì 9 dicembre alle 09:00.",
        ),
        (  # a closure over Christmas, in English for an en-GB customer
            rome(2026, 12, 24, 15),
            "en-GB",
            "closed: closure 2026-12-24 13:00 to 2026-12-27 00:00",
            rome(2026, 12, 28, 9),
            "Hi Giulia, we are closed: we will answer from Monday 28 December at 09:00.",
        ),
        (  # the weekend of the spring DST switch: Monday opens at 09:00 CEST = 07:00 UTC
            rome(2026, 3, 28, 20),
            "it",
            "closed: outside business hours",
            rome(2026, 3, 30, 9),
            "Ciao Giulia, siamo chiusi: ti rispondiamo da lunedì 30 marzo alle 09:00.",
        ),
        (  # the autumn switch: Monday opens at 09:00 CET = 08:00 UTC
            rome(2026, 10, 24, 23, 30),
            "it",
            "closed: outside business hours",
            rome(2026, 10, 26, 9),
            "Ciao Giulia, siamo chiusi: ti rispondiamo da lunedì 26 ottobre alle 09:00.",
        ),
    ],
)
def test_closed_times_get_the_next_opening_in_the_customer_language(
    at: datetime, language: str, reason: str, next_open: datetime, text: str
) -> None:
    decision = decide(
        CALENDAR, RULES, channel="whatsapp", at=at, languages=[language], name="Giulia"
    )
    assert decision.send and not decision.is_open
    assert decision.reason == reason
    assert decision.next_open == next_open
    assert decision.text == text


def test_dst_openings_are_the_right_utc_instants() -> None:
    assert rome(2026, 3, 30, 9).hour == 7 and rome(2026, 10, 26, 9).hour == 8


def test_open_hours_and_uncovered_channels_send_nothing() -> None:
    open_time = rome(2026, 12, 9, 10)
    decision = decide(CALENDAR, RULES, channel="telegram", at=open_time)
    assert not decision.send and decision.is_open
    only_whatsapp = [AwayMessageSettings.model_validate({**AWAY, "channels": ["whatsapp"]})]
    decision = decide(CALENDAR, only_whatsapp, channel="telegram", at=rome(2026, 12, 6, 10))
    assert not decision.send and decision.reason == "no away rule covers telegram"


def test_the_first_rule_that_holds_now_answers() -> None:
    closed = AwayMessageSettings.model_validate(AWAY)
    by_day = AwayMessageSettings(
        channels=["telegram"], when="always", text={"it": "Ricevuto, {name}!"}
    )
    rules = [closed, by_day]
    night = decide(CALENDAR, rules, channel="telegram", at=rome(2026, 12, 9, 23), name="Ada")
    day = decide(CALENDAR, rules, channel="telegram", at=rome(2026, 12, 9, 10), name="Ada")
    assert night.send and night.rule is closed
    assert day.send and day.rule is by_day and day.text == "Ricevuto, Ada!"
    whatsapp = decide(CALENDAR, rules, channel="whatsapp", at=rome(2026, 12, 9, 10))
    assert not whatsapp.send and whatsapp.reason == "open: the rule answers only when closed"


def test_always_rule_and_fallback_languages() -> None:
    always = AwayMessageSettings(
        channels=["telegram"], when="always", text={"en": "Thanks {name}!"}
    )
    decision = decide(
        CALENDAR, [always], channel="telegram", at=rome(2026, 12, 9, 10), languages=["de"]
    )
    assert decision.send and decision.is_open and decision.text == "Thanks!"  # no name: no gap
    assert decision.language == "en"


@pytest.fixture
def office(database_url: str) -> Iterator[tuple[Engine, FrozenClock, AwayResponder]]:
    engine = migrated(database_url)
    clock = FrozenClock(rome(2026, 12, 6, 23, 0))  # a Sunday night
    configure(engine, clock.now())
    yield engine, clock, AwayResponder(clock, "it")
    engine.dispose()


def test_burst_on_two_channels_yields_one_away_message(
    office: tuple[Engine, FrozenClock, AwayResponder],
) -> None:
    engine, clock, responder = office
    now = clock.now()
    telegram_burst = [inbound("telegram", f"tg:{i}", now, text=f"ciao {i}") for i in range(5)]
    whatsapp_burst = [inbound("whatsapp", f"wamid.{i}", now, user="393331234567") for i in range(5)]
    deliver(engine, responder, telegram_burst + whatsapp_burst, now)  # one batch
    for i in range(5, 8):  # and more deliveries right after, one by one
        deliver(
            engine, responder, [inbound("whatsapp", f"wamid.{i}", now, user="393331234567")], now
        )
    with Session(engine) as session:
        sent = bot_messages(session)
        assert len(sent) == 1
        assert count(session, OutboxItem) == 1
        away = sent[0]
        assert away.direction == "out" and away.delivery_status == "queued"
        assert (
            away.text
            == "Ciao Giulia, siamo chiusi: ti rispondiamo da lunedì 7 dicembre alle 09:00."
        )
        conversation = session.get(Conversation, away.conversation_id)
        assert conversation is not None
        assert conversation.channel == "telegram"
        assert conversation.first_response_at is None  # a bot message is no response
        assert conversation.waiting_since is not None


def test_by_day_a_later_always_rule_answers_behind_a_closed_rule(
    office: tuple[Engine, FrozenClock, AwayResponder],
) -> None:
    engine, clock, responder = office
    acknowledge = {
        "channels": ["telegram"],
        "when": "always",
        "text": {"it": "Ciao {name}, un operatore ti risponde qui."},
    }
    configure(engine, clock.now(), rules=(AWAY, acknowledge))
    clock.set(rome(2026, 12, 9, 10, 0))  # a Wednesday morning: open
    deliver(engine, responder, [inbound("telegram", "tg:1", clock.now())], clock.now())
    other = inbound("whatsapp", "wamid.1", clock.now(), user="39333", phone=None, name="Ugo")
    deliver(engine, responder, [other], clock.now())  # another customer: only the closed rule
    with Session(engine) as session:
        sent = bot_messages(session)
    assert [(m.channel, m.text) for m in sent] == [
        ("telegram", "Ciao Giulia, un operatore ti risponde qui.")
    ]


def test_cooldown_then_a_new_away_message(
    office: tuple[Engine, FrozenClock, AwayResponder],
) -> None:
    engine, clock, responder = office
    clock.set(rome(2026, 12, 5, 20, 0))  # Saturday evening
    deliver(engine, responder, [inbound("telegram", "tg:1", clock.now())], clock.now())
    clock.advance(timedelta(hours=11, minutes=59))  # Sunday 07:59: closed, in the cooldown
    deliver(engine, responder, [inbound("telegram", "tg:2", clock.now())], clock.now())
    with Session(engine) as session:
        assert len(bot_messages(session)) == 1
    clock.advance(timedelta(minutes=2))  # Sunday 08:01: the cooldown is over
    deliver(
        engine, responder, [inbound("whatsapp", "wamid.3", clock.now(), user="39333")], clock.now()
    )
    with Session(engine) as session:
        sent = bot_messages(session)
        assert [m.channel for m in sent] == ["telegram", "whatsapp"]
        assert all("lunedì 7 dicembre alle 09:00" in m.text for m in sent)


def test_restarted_responder_keeps_the_cooldown(
    office: tuple[Engine, FrozenClock, AwayResponder],
) -> None:
    engine, clock, responder = office
    deliver(engine, responder, [inbound("telegram", "tg:1", clock.now())], clock.now())
    restarted = AwayResponder(clock, "it")  # a new process: all it knows is in the database
    clock.advance(timedelta(minutes=30))
    deliver(engine, restarted, [inbound("telegram", "tg:2", clock.now())], clock.now())
    with Session(engine) as session:
        assert len(bot_messages(session)) == 1


def test_no_away_message_for_echoes_replies_to_bots_recent_agents_or_public_posts(
    office: tuple[Engine, FrozenClock, AwayResponder],
) -> None:
    engine, clock, responder = office
    now = clock.now()
    echo = inbound("telegram", "tg:echo", now, direction="out")
    deliver(engine, responder, [echo], now)
    mention = inbound("x", "1799", now, user="77", public=True, thread="tweet:1799", phone=None)
    deliver(engine, responder, [mention], now)
    stale = inbound("telegram", "tg:old", now - timedelta(hours=3), user="55", phone=None)
    deliver(engine, responder, [stale], now)
    with Session(engine) as session:
        assert bot_messages(session) == []

    with session_scope(engine) as session:  # an agent answers a new customer at 22:55
        ingested = ingest(
            session, [inbound("telegram", "tg:a", now, user="66", phone=None)], now=now
        )
        _, conversation = ingested.new_messages[0]
        queue(session, conversation, "Ci sono io!", now=now - timedelta(minutes=5))
    deliver(engine, responder, [inbound("telegram", "tg:b", now, user="66", phone=None)], now)
    with Session(engine) as session:
        assert bot_messages(session) == []

    with session_scope(engine) as session:  # our bot wrote; the customer answers the bot
        ingested = ingest(
            session, [inbound("telegram", "tg:c", now, user="88", phone=None)], now=now
        )
        _, conversation = ingested.new_messages[0]
        bot = queue(session, conversation, "Grazie!", now=now, author="bot", purpose="away")
        bot.external_id = "tg:bot-1"
    reply = inbound("telegram", "tg:d", now, user="88", phone=None, reply_to="tg:bot-1")
    deliver(engine, responder, [reply], now)
    with Session(engine) as session:
        assert [m.text for m in bot_messages(session)] == ["Grazie!"]


def test_public_posts_are_answered_when_the_rule_says_so(
    office: tuple[Engine, FrozenClock, AwayResponder],
) -> None:
    engine, clock, responder = office
    configure(engine, clock.now(), [{**AWAY, "channels": ["x"], "public": True}])
    mention = inbound("x", "1800", clock.now(), user="77", public=True, thread="tweet:1800")
    deliver(engine, responder, [mention], clock.now())
    with Session(engine) as session:
        assert len(bot_messages(session)) == 1
        assert session.exec(select(OutboxItem)).one().payload["reply_to_external_id"] == "1800"


def test_two_replicas_at_once_send_one_away_message(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("concurrent writers need PostgreSQL")
    engines = [migrated(database_url), migrated(database_url)]
    clock = FrozenClock(rome(2026, 12, 6, 23, 0))
    configure(engines[0], clock.now())
    responders = [AwayResponder(clock, "it"), AwayResponder(clock, "it")]
    with session_scope(engines[0]) as session:  # the customer exists on both channels already
        ingest(
            session, [inbound("telegram", "tg:0", clock.now() - timedelta(days=2))], now=clock.now()
        )
        ingest(
            session,
            [inbound("whatsapp", "wamid.0", clock.now() - timedelta(days=2), user="39333")],
            now=clock.now(),
        )
    for round_ in range(5):
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def replica(
            i: int,
            round_: int = round_,
            barrier: threading.Barrier = barrier,
            errors: list[BaseException] = errors,
        ) -> None:
            channel, user = (("telegram", "u1"), ("whatsapp", "39333"))[i]
            message = inbound(channel, f"{channel}:{round_}", clock.now(), user=user)
            try:
                with session_scope(engines[i]) as session:
                    ingested = ingest(session, [message], now=clock.now())
                    barrier.wait(timeout=10)
                    responders[i](session, ingested)
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=replica, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert errors == []
        with Session(engines[0]) as session:
            assert len(bot_messages(session)) == round_ + 1, f"round {round_}"
        clock.advance(timedelta(hours=13))
        if not BusinessCalendar.from_dict(OFFICE).is_open(clock.now()):
            continue
        clock.advance(timedelta(hours=12))  # skip the open hours: the rule answers when closed
    for engine in engines:
        engine.dispose()


def test_the_worker_reads_all_stored_settings_in_one_query(engine: Engine) -> None:
    """``read_all`` (the worker calls it before taking the write lock) leaves the hooks'
    reads of hours, away rules and SLA policies nothing to ask the database."""
    configure(engine, rome(2026, 12, 7, 9))
    statements: list[str] = []
    with Session(engine) as session:
        settings_store.read_all(session)
        event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        rules = settings_store.away_rules(session)
        calendar = settings_store.calendar(session)
        policies = settings_store.sla_policies(session)
    assert statements == []
    with Session(engine) as fresh:
        assert rules == settings_store.away_rules(fresh) == RULES
        assert calendar == settings_store.calendar(fresh)
        assert policies == settings_store.sla_policies(fresh) == []
