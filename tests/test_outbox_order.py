"""Messages to one conversation leave in the order they were queued, retries included."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from conftest import cycles_left_by, run_until, telegram_channel
from sqlalchemy import Engine

from sportello.config.settings import load_settings
from sportello.connectors.base import InboundMessage, OutboundMessage, Person, Thread
from sportello.connectors.emulators.server import BackgroundServer
from sportello.connectors.emulators.telegram import TelegramEmulator
from sportello.connectors.registry import enabled_connectors
from sportello.inbox.clock import FrozenClock
from sportello.inbox.db import session_scope
from sportello.inbox.ingest import ingest
from sportello.inbox.models import Conversation
from sportello.inbox.outbox import OutboxSender, queue

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def _conversation(engine: Engine, chat_id: int) -> int:
    event = InboundMessage(
        channel="telegram",
        external_id=f"{chat_id}:1",
        thread=Thread(str(chat_id)),
        customer=Person(str(chat_id), display_name="Marco Ferri"),
        sent_at=NOW - timedelta(minutes=1),
        text="Il pacco non è arrivato",
    )
    with session_scope(engine) as session:
        [(_, conversation)] = ingest(session, [event], now=NOW).new_messages
        assert conversation.id is not None
        return conversation.id


def _queue(engine: Engine, conversation_id: int, *texts: str) -> None:
    with session_scope(engine) as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        for text in texts:
            queue(session, conversation, text, now=NOW)


async def test_a_reply_being_retried_is_not_overtaken_by_the_next_one(
    engine: Engine, database_url: str, telegram_emulator: tuple[TelegramEmulator, BackgroundServer]
) -> None:
    emulator, server = telegram_emulator
    settings = load_settings(
        None, database={"url": database_url}, channels=telegram_channel(server.url)
    )
    first, other = _conversation(engine, 7001), _conversation(engine, 7002)
    _queue(engine, first, "Controllo subito.", "È in consegna oggi.")
    _queue(engine, other, "Buongiorno!")
    emulator.add_fault("sendMessage", 429, count=1, retry_after=30)
    clock = FrozenClock(NOW)
    connectors = enabled_connectors(settings)
    sender = OutboxSender(engine, connectors, clock)
    try:
        # The first reply meets the rate limit; the second waits behind it, while another
        # conversation's message goes out.
        assert await sender.send_due() == 2
        assert [m["text"] for m in emulator.sent] == ["Buongiorno!"]
        assert await sender.send_due() == 0
        clock.advance(timedelta(seconds=31))
        assert await sender.send_due() == 1
        assert await sender.send_due() == 1
    finally:
        for connector in connectors.values():
            await connector.aclose()
    assert [m["text"] for m in emulator.sent if m["chat_id"] == 7001] == [
        "Controllo subito.",
        "È in consegna oggi.",
    ]


async def test_a_reply_that_failed_for_good_no_longer_holds_the_next_one(
    engine: Engine, database_url: str, telegram_emulator: tuple[TelegramEmulator, BackgroundServer]
) -> None:
    emulator, server = telegram_emulator
    settings = load_settings(
        None, database={"url": database_url}, channels=telegram_channel(server.url)
    )
    conversation = _conversation(engine, 7003)
    _queue(engine, conversation, "Primo", "Secondo")
    emulator.add_fault("sendMessage", 400, count=1)
    connectors = enabled_connectors(settings)
    sender = OutboxSender(engine, connectors, FrozenClock(NOW))
    try:
        assert await sender.send_due() == 1
        assert await sender.send_due() == 1
    finally:
        for connector in connectors.values():
            await connector.aclose()
    assert [m["text"] for m in emulator.sent] == ["Secondo"]


async def test_a_reply_queued_while_a_round_finds_nothing_is_not_left_waiting(
    engine: Engine,
    database_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Queued (and the sender woken) just after its claim came back empty: the wake starts
    the next round instead of being forgotten until the idle poll, a minute here."""
    emulator, server = telegram_emulator
    settings = load_settings(
        None, database={"url": database_url}, channels=telegram_channel(server.url)
    )
    conversation = _conversation(engine, 7004)
    connectors = enabled_connectors(settings)
    sender = OutboxSender(engine, connectors, FrozenClock(NOW), idle_s=60.0)
    loop = asyncio.get_running_loop()
    claim = sender._claim
    rounds: list[int] = []

    def claim_then_an_agent_replies() -> list[tuple[int, OutboundMessage]]:
        items = claim()
        rounds.append(len(items))
        if rounds == [0]:
            _queue(engine, conversation, "Eccoci!")
            loop.call_soon_threadsafe(sender.wake.set)  # as ``Daemon.wake_sender`` does
        return items

    monkeypatch.setattr(sender, "_claim", claim_then_an_agent_replies)
    try:
        await run_until(sender, lambda: emulator.sent)
    finally:
        for connector in connectors.values():
            await connector.aclose()
    assert [m["text"] for m in emulator.sent] == ["Eccoci!"]


def test_a_round_leaves_no_reference_cycles(
    engine: Engine,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    fresh_orm_caches: None,
) -> None:
    """The sender looks for due items after every batch that queued a reply and every
    second: reference cycles each round made filled the collector's passes (docs/benchmarks.md)."""
    _, server = telegram_emulator
    settings = load_settings(None, channels=telegram_channel(server.url))
    sender = OutboxSender(engine, enabled_connectors(settings), FrozenClock(NOW))
    _queue(engine, _conversation(engine, 7001), "Controllo subito.")
    sender._claim()  # first compilation
    _queue(engine, _conversation(engine, 7002), "Buongiorno!")

    def rounds() -> None:
        assert len(sender._claim()) == 1
        assert sender._claim() == []  # nothing due: the idle round

    assert cycles_left_by(rounds) == Counter()
