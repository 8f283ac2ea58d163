"""The journal worker: ordering, retries after a failed ingest, and what ends as failed."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import cycles_left_by, make_settings, run_until, telegram_channel, wait_for
from pydantic import SecretStr
from sqlalchemy import Engine, event
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from sportello.cli import app
from sportello.config.settings import TelegramSettings
from sportello.connectors.emulators import telegram_payloads as tg
from sportello.connectors.telegram import TelegramConnector
from sportello.daemon import Daemon
from sportello.inbox import journal, outbox
from sportello.inbox.clock import FrozenClock
from sportello.inbox.db import make_engine, migrate, write_lock
from sportello.inbox.ingest import Ingested
from sportello.inbox.intake import Intake
from sportello.inbox.models import Conversation, Customer, Delivery, Identity, Message
from sportello.inbox.pipeline import MAX_INGEST_ATTEMPTS, Hook, JournalWorker

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
PIA = tg.user(5554001, "Pia", "Gallo")


def _setup(database_url: str, hook: Hook) -> tuple[Engine, JournalWorker]:
    engine = make_engine(database_url)
    migrate(engine)
    connector = TelegramConnector(TelegramSettings(bot_token=SecretStr("1:x")))
    worker = JournalWorker(engine, {"telegram": connector}, FrozenClock(NOW), hooks=[hook])
    return engine, worker


def _append(engine: Engine, n: int) -> None:
    message = tg.message(n, PIA, int(NOW.timestamp()), text=f"testo {n}")
    body = json.dumps(tg.update(n, message=message)).encode()
    journal.append(engine, channel="telegram", body=body, received_at=NOW, platform_key=f"u{n}")


def test_a_failed_ingest_is_retried_then_succeeds(database_url: str) -> None:
    calls = {"n": 0}

    def flaky(session: Session, ingested: Ingested) -> None:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise RuntimeError("conflict with another replica")

    engine, worker = _setup(database_url, flaky)
    _append(engine, 1)
    for _ in range(3):
        worker.process_pending()
    with Session(engine) as session:
        delivery = session.exec(select(Delivery)).one()
        # Round one fails in the batch and again alone; round two succeeds.
        assert (delivery.state, delivery.attempts, delivery.error) == ("processed", 2, None)
        assert len(session.exec(select(Message)).all()) == 1
    engine.dispose()


def test_a_persistent_failure_ends_as_failed_and_keeps_the_reason(database_url: str) -> None:
    def broken(session: Session, ingested: Ingested) -> None:
        raise ValueError("bug in a hook")

    engine, worker = _setup(database_url, broken)
    _append(engine, 2)
    _append(engine, 3)
    for _ in range(MAX_INGEST_ATTEMPTS + 2):
        worker.process_pending()
    with Session(engine) as session:
        deliveries = session.exec(select(Delivery).order_by(col(Delivery.id))).all()
        assert [d.state for d in deliveries] == ["failed", "failed"]
        assert all("bug in a hook" in (d.error or "") for d in deliveries)
        assert all(d.attempts == MAX_INGEST_ATTEMPTS for d in deliveries)
        assert session.exec(select(Message)).all() == []  # nothing half-ingested
        assert journal.requeue(session) == 2
    engine.dispose()


def test_requeue_from_the_command_line(sqlite_url: str, tmp_path: Path) -> None:
    engine, worker = _setup(sqlite_url, lambda session, ingested: None)
    worker.connectors = {}  # the channel is not configured: deliveries fail
    _append(engine, 4)
    worker.process_pending()
    config = tmp_path / "s.toml"
    config.write_text(f'[database]\nurl = "{sqlite_url}"\n')
    runner = CliRunner()
    result = runner.invoke(app, ["requeue", "--config", str(config)])
    assert result.exit_code == 0 and "1 deliveries requeued" in result.output
    with Session(engine) as session:
        assert session.exec(select(Delivery)).one().state == "pending"
    bad = runner.invoke(app, ["requeue", "--config", str(config), "--state", "processed"])
    assert bad.exit_code == 2
    engine.dispose()


def test_one_bad_delivery_does_not_hold_back_the_rest_of_its_batch(database_url: str) -> None:
    def picky(session: Session, ingested: Ingested) -> None:
        if any(m.text == "testo 6" for m, _ in ingested.new_messages):
            raise ValueError("cannot handle this one")

    engine, worker = _setup(database_url, picky)
    for n in (5, 6, 7):
        _append(engine, n)
    assert worker.process_pending() == 3
    with Session(engine) as session:
        states = [d.state for d in session.exec(select(Delivery).order_by(col(Delivery.id)))]
        texts = sorted(m.text for m in session.exec(select(Message)))
    assert states == ["processed", "pending", "processed"]
    assert texts == ["testo 5", "testo 7"]
    engine.dispose()


def test_the_worker_says_when_a_delivery_queued_replies(database_url: str) -> None:
    """The daemon wakes the outbox sender only for deliveries whose automation queued one."""

    def reply_to_the_second(session: Session, ingested: Ingested) -> None:
        for message, conversation in ingested.new_messages:
            if message.text == "testo 2":
                outbox.queue(session, conversation, "Grazie!", now=NOW, author="bot")

    engine, worker = _setup(database_url, reply_to_the_second)
    seen: list[tuple[str, bool]] = []
    worker.on_change = lambda ingested: seen.append(
        (ingested.new_messages[0][0].text, ingested.queued_replies)
    )
    for n in (1, 2, 3):
        _append(engine, n)
    worker.process_pending()
    engine.dispose()
    assert seen == [("testo 1", False), ("testo 2", True), ("testo 3", False)]


def test_a_batch_finds_what_its_earlier_deliveries_stored(database_url: str) -> None:
    """One batch: a new customer's first message, a second one, the first again in another
    update, an edit of the first. The batch reads its lookups once and learns what it adds:
    one customer, one conversation, two messages, the edit applied, and no fallback to a
    savepoint per delivery (which a duplicate row would have forced)."""
    engine, worker = _setup(database_url, lambda session, ingested: None)
    date = int(NOW.timestamp())
    first = tg.message(1, PIA, date, text="testo 1")
    updates = [
        tg.update(1, message=first),
        tg.update(2, message=tg.message(2, PIA, date + 1, text="testo 2")),
        tg.update(3, message=first),
        tg.update(4, edited_message={**first, "text": "testo 1, corretto", "edit_date": date + 9}),
    ]
    for body in updates:
        journal.append(
            engine,
            channel="telegram",
            body=json.dumps(body).encode(),
            received_at=NOW,
            platform_key=f"u{body['update_id']}",
        )
    savepoints: list[str] = []
    event.listen(engine, "savepoint", lambda connection, name: savepoints.append(name))
    assert worker.process_pending() == 4
    with Session(engine) as session:
        assert sorted(m.text for m in session.exec(select(Message))) == [
            "testo 1, corretto",
            "testo 2",
        ]
        assert [len(session.exec(select(model)).all()) for model in (Customer, Identity)] == [1, 1]
        assert len(session.exec(select(Conversation)).all()) == 1
        assert {d.state for d in session.exec(select(Delivery))} == {"processed"}
    assert savepoints == []
    engine.dispose()


def _webhook_waits_during(
    engine: Engine, worker: JournalWorker, text: str, seen: list[int]
) -> tuple[Hook, list[threading.Thread]]:
    """A hook that, while the worker stores the message ``text``, makes a webhook queue for
    the SQLite write lock; the webhook notes how many deliveries are processed by then."""
    lock = worker.write_lock
    threads: list[threading.Thread] = []

    def webhook() -> None:
        with lock.urgent(), Session(engine) as session:
            processed = select(Delivery).where(Delivery.state == "processed")
            seen.append(len(session.exec(processed).all()))

    def hook(session: Session, ingested: Ingested) -> None:
        if any(m.text == text for m, _ in ingested.new_messages):
            threads.append(threading.Thread(target=webhook, daemon=True))
            threads[-1].start()
            wait_for(lock.wanted, timeout=10, interval=0.001)

    return hook, threads


def test_a_waiting_webhook_goes_between_two_deliveries_of_a_batch(sqlite_url: str) -> None:
    """The worker commits what it stored and lets the webhook in, then finishes the batch."""
    engine = make_engine(sqlite_url)
    migrate(engine)
    connector = TelegramConnector(TelegramSettings(bot_token=SecretStr("1:x")))
    worker = JournalWorker(
        engine, {"telegram": connector}, FrozenClock(NOW), write_lock=write_lock(engine)
    )
    seen: list[int] = []
    hook, threads = _webhook_waits_during(engine, worker, "testo 1", seen)
    worker.hooks.append(hook)
    for n in (1, 2, 3):
        _append(engine, n)
    assert worker.process_pending() == 3
    threads[0].join(10)
    assert seen == [1]  # the first delivery was committed before the webhook's turn
    with Session(engine) as session:
        assert [d.state for d in session.exec(select(Delivery))] == ["processed"] * 3
        assert len(session.exec(select(Message)).all()) == 3
    engine.dispose()


def test_after_letting_a_webhook_in_a_failure_redoes_only_the_uncommitted_rest(
    sqlite_url: str,
) -> None:
    engine = make_engine(sqlite_url)
    migrate(engine)
    connector = TelegramConnector(TelegramSettings(bot_token=SecretStr("1:x")))
    worker = JournalWorker(
        engine, {"telegram": connector}, FrozenClock(NOW), write_lock=write_lock(engine)
    )
    seen: list[int] = []
    hook, threads = _webhook_waits_during(engine, worker, "testo 1", seen)

    def picky(session: Session, ingested: Ingested) -> None:
        if any(m.text == "testo 3" for m, _ in ingested.new_messages):
            raise ValueError("cannot handle this one")

    worker.hooks += [hook, picky]
    for n in (1, 2, 3):
        _append(engine, n)
    assert worker.process_pending() == 3
    threads[0].join(10)
    with Session(engine) as session:
        deliveries = session.exec(select(Delivery).order_by(col(Delivery.id))).all()
        assert [(d.state, d.attempts) for d in deliveries] == [
            ("processed", 1),
            ("processed", 1),
            ("pending", 1),
        ]
        assert sorted(m.text for m in session.exec(select(Message))) == ["testo 1", "testo 2"]
    engine.dispose()


class _WatchedIntake(Intake):
    """Tells the test when the worker has reached its wait (a sleep long enough for that
    was not, on a busy machine)."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = threading.Event()

    def wait_idle(self, timeout: float) -> bool:
        self.waiting.set()
        return super().wait_idle(timeout)


def test_the_worker_steps_aside_while_a_webhook_is_in_flight(database_url: str) -> None:
    """A webhook arrives while the worker stores the first of three deliveries. The worker
    stores nothing more until the webhook is answered; on SQLite it commits the first
    delivery meanwhile (and lets go of the write lock), on PostgreSQL it commits nothing
    (the batch's claimed rows stay locked against other replicas)."""
    engine = make_engine(database_url)
    migrate(engine)
    connector = TelegramConnector(TelegramSettings(bot_token=SecretStr("1:x")))
    intake = _WatchedIntake()
    worker = JournalWorker(
        engine,
        {"telegram": connector},
        FrozenClock(NOW),
        write_lock=write_lock(engine),
        intake=intake,
        yield_s=10.0,  # the webhook, not the timeout, ends the wait
    )
    seen_by_webhook: list[int] = []
    busy_when_stored: dict[str, bool] = {}
    threads: list[threading.Thread] = []

    def webhook() -> None:
        with worker.intake.receiving():
            in_flight.set()
            assert intake.waiting.wait(10), "the worker never stepped aside"
            with Session(engine) as session:
                processed = select(Delivery).where(Delivery.state == "processed")
                seen_by_webhook.append(len(session.exec(processed).all()))

    in_flight = threading.Event()

    def hook(session: Session, ingested: Ingested) -> None:
        for message, _ in ingested.new_messages:
            busy_when_stored[message.text] = worker.intake.busy()
            if message.text == "testo 1":
                threads.append(threading.Thread(target=webhook, daemon=True))
                threads[-1].start()
                in_flight.wait(10)

    worker.hooks.append(hook)
    for n in (1, 2, 3):
        _append(engine, n)
    assert worker.process_pending() == 3
    threads[0].join(10)
    assert seen_by_webhook == [1 if worker.write_lock.enabled else 0]
    assert busy_when_stored == {"testo 1": False, "testo 2": False, "testo 3": False}
    with Session(engine) as session:
        assert [d.state for d in session.exec(select(Delivery))] == ["processed"] * 3
    engine.dispose()


async def test_a_delivery_journaled_while_a_round_finds_nothing_is_not_left_waiting(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A webhook commits just after the worker's claim came back empty and wakes it before
    the round has ended: that wake must start the next round, not be forgotten (the worker
    would then sleep until its idle timeout, a minute here)."""
    engine, worker = _setup(database_url, lambda session, ingested: None)
    worker.idle_s = 60.0
    loop = asyncio.get_running_loop()
    empty_rounds = 0
    round_of = worker.process_pending

    def round_then_a_webhook() -> int:
        nonlocal empty_rounds
        done = round_of()
        if done == 0:
            empty_rounds += 1
            if empty_rounds == 1:
                _append(engine, 7)
                loop.call_soon_threadsafe(worker.wake.set)  # as ``Daemon.wake_worker`` does
        return done

    monkeypatch.setattr(worker, "process_pending", round_then_a_webhook)
    await run_until(worker, lambda: _stored_texts(engine))
    assert _stored_texts(engine) == ["testo 7"]
    engine.dispose()


def _stored_texts(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return [m.text for m in session.exec(select(Message))]


def test_the_worker_leaves_no_reference_cycles(database_url: str, fresh_orm_caches: None) -> None:
    """The collector's passes stop every thread: when the worker left cycles (some 45k
    objects between two passes under load), a pass took 25-40 ms of every webhook in flight."""
    daemon = Daemon(make_settings(database_url, channels=telegram_channel("http://127.0.0.1:9")))
    migrate(daemon.engine)
    daemon.seed_settings()
    daemon.worker.on_change = None  # no event loop here: nothing to wake
    people = [
        tg.user(5554100 + k, f"Nome{k}", f"Cognome{k}", username=f"nome{k}") for k in range(30)
    ]

    def ingest(first: int, who: list[dict[str, Any]]) -> None:
        for n, person in enumerate(who, start=first):
            message = tg.message(n, person, int(NOW.timestamp()) + n, text=f"grazie mille {n}")
            body = json.dumps(tg.update(n, message=message)).encode()
            journal.append(daemon.engine, channel="telegram", body=body, received_at=NOW)
        while daemon.worker.process_pending():
            pass

    ingest(1, people[:10])  # first compilations, caches
    # new customers (look-alike search, identity, conversation) and known ones
    assert cycles_left_by(lambda: ingest(100, people[10:] + people[:10])) == Counter()
    with Session(daemon.engine) as session:
        assert len(session.exec(select(Message)).all()) == 40
    daemon.engine.dispose()
