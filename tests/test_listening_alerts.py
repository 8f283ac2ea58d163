"""Alert rules on a controlled clock, once-per-episode semantics, and delivery to every sink."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.message import Message as EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message as MessageHandler
from conftest import make_settings, telegram_channel
from fastapi import FastAPI, Request, Response
from plan_helpers import statements_run, write_transactions
from sqlalchemy import Engine, event
from sqlmodel import Session, col, select

from sportello.config.settings import AlertRuleSettings, ConfigError
from sportello.connectors.emulators.server import BackgroundServer, free_port
from sportello.connectors.emulators.telegram import TelegramEmulator
from sportello.inbox.clock import FrozenClock
from sportello.inbox.db import make_engine, migrate, session_scope
from sportello.listening.alerts import Condition, raise_alert, raise_alerts, resolve_alert
from sportello.listening.dispatch import CLAIM, AlertDispatcher, fan_out
from sportello.listening.models import Alert, AlertNotification, Mention
from sportello.listening.rules import evaluate_all, spike_limit
from sportello.listening.sinks import Sink, build_sinks

MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
_ids = itertools.count(1)


def add_mentions(
    engine: Engine, at: datetime, compounds: list[float], source: str = "x", text: str = ""
) -> None:
    with session_scope(engine) as session:
        for compound in compounds:
            n = next(_ids)
            session.add(
                Mention(
                    source=source,
                    external_id=str(n),
                    text=text or f"post {n}",
                    language="it",
                    published_at=at,
                    fetched_at=at,
                    sentiment_compound=compound,
                    sentiment_label="negative" if compound <= -0.05 else "neutral",
                )
            )


def rules(*specs: dict[str, Any]) -> list[AlertRuleSettings]:
    return make_settings("sqlite://", alerts={"rules": list(specs)}).alerts.rules


def evaluate(
    engine: Engine, rule_list: list[AlertRuleSettings], now: datetime
) -> list[tuple[str, str]]:
    with session_scope(engine) as session:
        return [(a.key, a.state) for a in evaluate_all(session, rule_list, now)]


def alerts(engine: Engine) -> list[Alert]:
    with Session(engine) as session:
        return list(session.exec(select(Alert).order_by(col(Alert.id))))


def test_negative_share_fires_once_resolves_and_respects_the_cooldown(engine: Engine) -> None:
    rule = rules(
        {
            "name": "neg",
            "kind": "negative_share",
            "window": "1h",
            "threshold": 0.6,
            "min_volume": 4,
            "cooldown": "3h",
            "languages": ["it"],
        }
    )
    clock = FrozenClock(MONDAY_10)
    add_mentions(engine, MONDAY_10 - timedelta(minutes=30), [-0.7, -0.6, 0.3])
    assert evaluate(engine, rule, clock.now()) == []  # 3 items: under the minimum volume
    add_mentions(engine, MONDAY_10 - timedelta(minutes=10), [-0.2])  # negative, not clearly
    assert evaluate(engine, rule, clock.now()) == []  # 2 of 4 clearly negative: 0.5 < 0.6
    add_mentions(engine, MONDAY_10 - timedelta(minutes=5), [-0.9])
    clock.advance(60)
    assert evaluate(engine, rule, clock.now()) == [("neg", "firing")]
    assert evaluate(engine, rule, clock.now()) == []  # same episode: nothing new
    (alert,) = alerts(engine)
    assert alert.details["negative"] == 3 and alert.details["total"] == 5

    clock.advance(timedelta(hours=1))  # the burst left the window
    assert evaluate(engine, rule, clock.now()) == [("neg", "resolved")]
    add_mentions(engine, clock.now() - timedelta(minutes=1), [-0.8] * 5)
    assert evaluate(engine, rule, clock.now()) == []  # back within the 3h cooldown: quiet
    clock.advance(timedelta(hours=2))
    add_mentions(engine, clock.now() - timedelta(minutes=1), [-0.8] * 5)
    assert evaluate(engine, rule, clock.now()) == [("neg", "firing")]  # a new episode
    assert [a.state for a in alerts(engine)] == ["resolved", "firing"]


def test_negative_share_counts_only_the_rule_sources_and_languages(engine: Engine) -> None:
    rule = rules(
        {"name": "feeds-en", "kind": "negative_share", "sources": ["feed"], "languages": ["en"]}
    )
    add_mentions(engine, MONDAY_10 - timedelta(minutes=5), [-0.9] * 12, source="x")
    assert evaluate(engine, rule, MONDAY_10) == []  # x mentions, Italian: out of scope


def test_volume_spike_against_the_same_hour_of_past_weeks(engine: Engine) -> None:
    rule = rules(
        {"name": "spike", "kind": "volume_spike", "window": "1h", "baseline_weeks": 4, "k": 3}
    )
    for week, volume in zip(range(1, 5), [4, 6, 5, 5], strict=True):
        add_mentions(engine, MONDAY_10 - timedelta(weeks=week, minutes=20), [0.0] * volume)
    # busy days at other hours are not "usual" for Monday 10:00
    add_mentions(engine, MONDAY_10 - timedelta(hours=5), [0.0] * 40)
    median, mad, limit = spike_limit([4, 6, 5, 5], 3)
    assert (median, mad) == (5, 0.5) and limit == pytest.approx(5 + 3 * 1.4826)

    add_mentions(engine, MONDAY_10 - timedelta(minutes=30), [0.0] * 9)
    assert evaluate(engine, rule, MONDAY_10) == []  # 9 is within the usual spread
    add_mentions(engine, MONDAY_10 - timedelta(minutes=10), [0.0] * 3)
    assert evaluate(engine, rule, MONDAY_10) == [("spike", "firing")]  # 12 > 9.45
    (alert,) = alerts(engine)
    assert alert.details["history"] == [4, 6, 5, 5] and alert.details["count"] == 12
    assert evaluate(engine, rule, MONDAY_10 + timedelta(hours=1)) == [("spike", "resolved")]


def test_keywords_fire_one_episode_each(engine: Engine) -> None:
    rule = rules({"name": "kw", "kind": "keyword", "keywords": ["truffa", "data breach"]})
    add_mentions(engine, MONDAY_10 - timedelta(minutes=3), [0.0], text="Sportello è una TRUFFA!")
    add_mentions(engine, MONDAY_10 - timedelta(minutes=2), [0.0], text="truffatori? no")
    assert evaluate(engine, rule, MONDAY_10) == [("kw:truffa", "firing")]
    assert alerts(engine)[0].details["count"] == 1  # "truffatori" is another word


def test_raise_alert_is_once_per_episode(engine: Engine) -> None:
    with session_scope(engine) as session:
        first = raise_alert(session, "sla_breach", "conv:7", "SLA", {"late_s": 60}, MONDAY_10)
        assert first is not None
        again = raise_alert(
            session, "sla_breach", "conv:7", "SLA", {"late_s": 120}, MONDAY_10 + timedelta(1)
        )
        assert again is None and first.details == {"late_s": 120}
        assert resolve_alert(session, "sla_breach", "conv:7", MONDAY_10) is first
        assert resolve_alert(session, "sla_breach", "conv:7", MONDAY_10) is None
        later = MONDAY_10 + timedelta(hours=1)
        assert raise_alert(session, "sla_breach", "conv:7", "SLA", {}, later) is not None


@contextmanager
def alerts_read() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """The key and details of each alert row read from the database inside the block."""
    read: list[tuple[str, dict[str, Any]]] = []

    def on_load(alert: Alert, _context: object) -> None:
        read.append((alert.key, alert.details))

    event.listen(Alert, "load", on_load)
    try:
        yield read
    finally:
        event.remove(Alert, "load", on_load)


def test_only_the_latest_episode_of_a_key_is_read(engine: Engine) -> None:
    """A condition that came and went all year keeps its episodes; raising it again reads
    the newest alone."""
    with session_scope(engine) as session:
        for day in range(5):
            at = MONDAY_10 + timedelta(days=day)
            raise_alert(session, "negative_share", "neg", "neg", {"day": day}, at)
            resolve_alert(session, "negative_share", "neg", at + timedelta(hours=1))
    later = MONDAY_10 + timedelta(days=9)
    with alerts_read() as read, session_scope(engine) as session:
        assert raise_alert(session, "negative_share", "neg", "neg", {}, later) is not None
    assert read == [("neg", {"day": 4})]


def test_raise_alerts_reads_the_episodes_of_many_keys_at_once(engine: Engine) -> None:
    with session_scope(engine) as session:
        raise_alert(session, "sla_breach", "firing", "SLA", {"n": 1}, MONDAY_10)
        raise_alert(session, "sla_breach", "over", "SLA", {}, MONDAY_10)
        resolve_alert(session, "sla_breach", "over", MONDAY_10)
    later = MONDAY_10 + timedelta(minutes=5)
    conditions = [
        Condition(key, "SLA", {"n": 2}) for key in ("firing", "over", "new", "new", "spare")
    ] + [Condition(f"many:{n}", "SLA", {}) for n in range(1_200)]  # past one chunk of keys
    with session_scope(engine) as session, statements_run(engine, "FROM alerts") as reads:
        fired = raise_alerts(session, "sla_breach", conditions, later)
        keys = [alert.key for alert in fired]
        assert keys[:3] == ["over", "new", "spare"] and len(keys) == 1_203  # "new" once
    assert len(reads) == 3  # the latest episodes, by chunks of keys
    with Session(engine) as session:
        episodes = session.exec(select(Alert).where(col(Alert.key).in_(("firing", "over")))).all()
    assert sorted((a.key, a.state, a.details) for a in episodes) == [
        ("firing", "firing", {"n": 2}),  # the same episode, seen again
        ("over", "firing", {"n": 2}),  # a new episode
        ("over", "resolved", {}),
    ]


# sinks -------------------------------------------------------------------------------


class Receiver:
    """A generic JSON webhook receiver that fails its first ``failures`` calls."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.received: list[dict[str, Any]] = []
        self.app = FastAPI()

        @self.app.post("/hook")
        async def hook(request: Request) -> Response:
            if self.failures > 0:
                self.failures -= 1
                return Response("busy", status_code=503)
            self.received.append(await request.json())
            return Response("ok")


def test_every_sink_gets_the_alert_and_failures_retry(
    sqlite_url: str, telegram_emulator: tuple[TelegramEmulator, BackgroundServer]
) -> None:
    telegram, telegram_server = telegram_emulator
    receiver = Receiver(failures=1)
    hook_server = BackgroundServer(receiver.app).start()
    smtp_port = free_port()
    mailbox = _Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    try:
        settings = make_settings(
            sqlite_url,
            channels=telegram_channel(telegram_server.url),
            alerts={
                "sinks": [
                    {"name": "ops-chat", "kind": "telegram", "chat_id": "-1001234567890"},
                    {"name": "slack", "kind": "webhook", "url": hook_server.url + "/hook"},
                    {
                        "name": "mail",
                        "kind": "email",
                        "smtp_host": "127.0.0.1",
                        "smtp_port": smtp_port,
                        "email_to": ["marketing@example.com"],
                    },
                ]
            },
        )
        engine = make_engine(sqlite_url)
        migrate(engine)
        clock = FrozenClock(MONDAY_10)
        dispatcher = AlertDispatcher(engine, build_sinks(settings), [], clock)
        with session_scope(engine) as session:
            raise_alert(
                session, "negative_share", "neg", "neg: 80% negative", {"n": 10}, clock.now()
            )

        assert asyncio.run(dispatcher.run_once()) == 2  # the webhook answered 503
        assert telegram.sent[0]["chat_id"] == -1001234567890
        assert "ALERT: neg: 80% negative" in telegram.sent[0]["text"]
        assert mailbox.messages[0]["Subject"] == "[sportello] ALERT: neg: 80% negative"
        assert mailbox.messages[0]["To"] == "marketing@example.com"
        with Session(engine) as session:
            failed = session.exec(
                select(AlertNotification).where(AlertNotification.sink == "slack")
            ).one()
        assert failed.state == "pending" and failed.attempts == 1
        assert failed.last_error is not None
        assert "503" in failed.last_error and failed.next_attempt_at > clock.now()

        assert asyncio.run(dispatcher.run_once()) == 0  # not due yet
        clock.advance(timedelta(minutes=5))
        assert asyncio.run(dispatcher.run_once()) == 1
        assert receiver.received[0]["text"].startswith("[sportello] ALERT: neg: 80% negative")

        with session_scope(engine) as session:
            resolve_alert(session, "negative_share", "neg", clock.now())
        assert asyncio.run(dispatcher.run_once()) == 3
        assert "RESOLVED" in receiver.received[1]["text"] and len(telegram.sent) == 2
        engine.dispose()
    finally:
        smtp.stop()
        hook_server.stop()


def test_fan_out_reads_only_alerts_with_an_event_left(engine: Engine) -> None:
    """Firing alerts already fanned out used to be read again at every run: a backlog kept
    thousands of SLA breach alerts firing (docs/benchmarks.md, session 25)."""
    with session_scope(engine) as session:
        for key in ("a", "b", "c"):
            raise_alert(session, "sla_breach", key, "SLA", {}, MONDAY_10)

    def fanned_out() -> tuple[int, list[str]]:
        """Notifications made by one fan-out, and the keys of the alerts it read."""
        with alerts_read() as read:
            made = fan_out(engine, ["ops"], [], MONDAY_10)
        return made, sorted(key for key, _ in read)

    assert fanned_out() == (3, ["a", "b", "c"])
    assert fanned_out() == (0, [])
    with session_scope(engine) as session:
        resolve_alert(session, "sla_breach", "b", MONDAY_10)
    assert fanned_out() == (1, ["b"])
    assert fanned_out() == (0, [])


def test_a_fan_out_of_many_alerts_goes_a_part_per_transaction(engine: Engine) -> None:
    """An SLA check's catch-up fires thousands of breach alerts at once; their fan-out held
    SQLite's writer in one transaction (docs/benchmarks.md, session 26)."""
    with session_scope(engine) as session:
        conditions = [Condition(str(n), "SLA", {}) for n in range(5)]
        raise_alerts(session, "sla_breach", conditions, MONDAY_10)
    with write_transactions(engine) as transactions:
        assert fan_out(engine, ["ops", "mail"], [], MONDAY_10, part=2) == 10
    notified = [
        {row["alert_id"] for statement, rows in writes if "alert_notifications" in statement
         for row in rows}
        for writes in transactions
    ]  # fmt: skip
    assert [len(alerts) for alerts in notified] == [2, 2, 1]
    assert fan_out(engine, ["ops", "mail"], [], MONDAY_10, part=2) == 0
    with Session(engine) as session:
        assert len(session.exec(select(AlertNotification)).all()) == 10


class HeldReceiver(Receiver):
    """A webhook receiver that holds each call until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Event()
        self.release = threading.Event()

        @self.app.post("/held")
        async def held(request: Request) -> Response:
            self.arrived.set()
            await asyncio.to_thread(self.release.wait, 30)
            self.received.append(await request.json())
            return Response("ok")


def _webhook_sink(url: str) -> dict[str, Sink]:
    """One sink, ``ops``: a generic JSON webhook at ``url``."""
    settings = make_settings(
        "sqlite://", alerts={"sinks": [{"name": "ops", "kind": "webhook", "url": url}]}
    )
    return build_sinks(settings)


def test_overlapping_runs_send_each_notification_once(engine: Engine) -> None:
    """The evaluation job delivers what it fires beside the delivery job, and every replica
    runs both: a second run while the first is sending claims nothing (it used to read the
    same pending rows and send them again)."""
    receiver = HeldReceiver()
    server = BackgroundServer(receiver.app).start()
    try:
        sinks = _webhook_sink(f"{server.url}/held")
        clock = FrozenClock(MONDAY_10)
        first, second = (AlertDispatcher(engine, sinks, [], clock) for _ in "ab")
        with session_scope(engine) as session:
            raise_alert(session, "negative_share", "neg", "neg: 80% negative", {}, clock.now())

        async def overlapping() -> tuple[int, int]:
            sending = asyncio.create_task(first.run_once())
            assert await asyncio.to_thread(receiver.arrived.wait, 10)
            meanwhile = await asyncio.wait_for(second.run_once(), 10)
            receiver.release.set()
            return await sending, meanwhile

        assert asyncio.run(overlapping()) == (1, 0)
        assert len(receiver.received) == 1
        clock.advance(CLAIM * 2)  # recorded as sent: never due again
        assert asyncio.run(second.run_once()) == 0
    finally:
        receiver.release.set()
        server.stop()


def test_a_notification_whose_run_died_is_sent_when_its_claim_runs_out(engine: Engine) -> None:
    receiver = Receiver()
    server = BackgroundServer(receiver.app).start()
    try:
        sinks = _webhook_sink(f"{server.url}/hook")
        clock = FrozenClock(MONDAY_10)
        with session_scope(engine) as session:
            raise_alert(session, "negative_share", "neg", "neg: 80% negative", {}, clock.now())
        fan_out(engine, ["ops"], [], clock.now())
        with session_scope(engine) as session:  # a run claimed it, then its process died
            claimed = session.exec(select(AlertNotification)).one()
            claimed.next_attempt_at = clock.now() + CLAIM
        dispatcher = AlertDispatcher(engine, sinks, [], clock)
        assert asyncio.run(dispatcher.run_once()) == 0
        clock.advance(CLAIM)
        assert asyncio.run(dispatcher.run_once()) == 1
        assert len(receiver.received) == 1
    finally:
        server.stop()


def test_a_fan_out_that_read_an_alert_before_another_made_its_rows_adds_none(
    engine: Engine,
) -> None:
    with session_scope(engine) as session:
        raise_alert(session, "negative_share", "neg", "neg", {}, MONDAY_10)
    assert fan_out(engine, ["ops", "mail"], [], MONDAY_10) == 2
    with session_scope(engine) as session:  # as another fan-out read it, before this one's commit
        session.exec(select(Alert)).one().fanned_out = ""
    assert fan_out(engine, ["ops", "mail"], [], MONDAY_10) == 0  # it used to fail on the key
    with Session(engine) as session:
        assert len(session.exec(select(AlertNotification)).all()) == 2
        assert session.exec(select(Alert)).one().fanned_out == "fired"


class _Mailbox(MessageHandler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[EmailMessage] = []

    def handle_message(self, message: EmailMessage) -> None:
        self.messages.append(message)


def test_a_telegram_sink_needs_the_bot(sqlite_url: str) -> None:
    with pytest.raises(ConfigError, match=r"alerts\.sinks t: needs channels\.telegram\.bot_token"):
        make_settings(
            sqlite_url, alerts={"sinks": [{"name": "t", "kind": "telegram", "chat_id": "1"}]}
        )
