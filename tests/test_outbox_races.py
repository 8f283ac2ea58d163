"""What the platform says about a message before the outbox has recorded the send."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import messenger_channel, whatsapp_channel
from sqlalchemy import Engine
from sqlmodel import col, select

from sportello.config.settings import Settings, load_settings
from sportello.connectors.base import Channel, InboundMessage, Person, StatusUpdate, Thread
from sportello.connectors.emulators.meta import GraphEmulator
from sportello.connectors.emulators.server import BackgroundServer
from sportello.connectors.registry import enabled_connectors
from sportello.inbox.clock import FrozenClock
from sportello.inbox.db import session_scope
from sportello.inbox.housekeeping import trim_early_statuses
from sportello.inbox.ingest import ingest
from sportello.inbox.models import EarlyStatus, Message
from sportello.inbox.outbox import OutboxSender, queue

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def _customer_wrote(engine: Engine, channel: Channel, user: str) -> int:
    event = InboundMessage(
        channel=channel,
        external_id=f"in-{user}",
        thread=Thread(user),
        customer=Person(user, display_name="Sara Conti", phone=f"+{user}"),
        sent_at=NOW - timedelta(minutes=5),
        text="Buongiorno, avete notizie del mio reso?",
    )
    with session_scope(engine) as session:
        [(_, conversation)] = ingest(session, [event], now=NOW).new_messages
        queue(session, conversation, "Sì, è in lavorazione.", now=NOW)
        assert conversation.id is not None
        return conversation.id


def _settings(database_url: str, channels: dict[str, Any]) -> Settings:
    return load_settings(None, database={"url": database_url}, channels=channels)


async def _send(engine: Engine, settings: Settings) -> None:
    connectors = enabled_connectors(settings)
    clock = FrozenClock(NOW)
    for connector in connectors.values():
        connector.use_clock(clock.now)  # the 24-hour window is judged at the test's instant
    sender = OutboxSender(engine, connectors, clock)
    try:
        assert await sender.send_due() == 1
    finally:
        for connector in connectors.values():
            await connector.aclose()


def _reply(engine: Engine, conversation_id: int) -> Message:
    with session_scope(engine) as session:
        return session.exec(
            select(Message).where(
                Message.conversation_id == conversation_id, Message.direction == "out"
            )
        ).one()


async def test_a_status_before_the_send_is_recorded_is_kept_and_applied(
    engine: Engine, database_url: str, whatsapp_emulator: tuple[GraphEmulator, BackgroundServer]
) -> None:
    emulator, server = whatsapp_emulator
    settings = _settings(database_url, whatsapp_channel(server.url))
    conversation_id = _customer_wrote(engine, "whatsapp", "393471112233")
    emulator.next_ids.append("wamid.HBgLMzkzNDcxMTEyMjMzFQIAERgSRACE")
    with session_scope(engine) as session:  # Meta's webhook beats the send's answer
        early = StatusUpdate("whatsapp", "wamid.HBgLMzkzNDcxMTEyMjMzFQIAERgSRACE", "read", NOW)
        assert ingest(session, [early], now=NOW).statuses == 0
    await _send(engine, settings)
    reply = _reply(engine, conversation_id)
    assert reply.external_id == "wamid.HBgLMzkzNDcxMTEyMjMzFQIAERgSRACE"
    assert reply.delivery_status == "read"
    with session_scope(engine) as session:
        assert session.exec(select(EarlyStatus)).all() == []


async def test_an_echo_stored_before_the_send_is_recorded_is_not_a_second_message(
    engine: Engine,
    database_url: str,
    messenger_emulator: tuple[GraphEmulator, BackgroundServer],
) -> None:
    emulator, server = messenger_emulator
    settings = _settings(database_url, messenger_channel(server.url))
    conversation_id = _customer_wrote(engine, "messenger", "6024301887600001")
    mid = "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P"
    emulator.next_ids.append(mid)
    echo = InboundMessage(
        channel="messenger",
        external_id=mid,
        thread=Thread("6024301887600001"),
        customer=Person("6024301887600001"),
        sent_at=NOW,
        text="Sì, è in lavorazione.",
        direction="out",
    )
    with session_scope(engine) as session:
        ingest(session, [echo, StatusUpdate("messenger", mid, "delivered", NOW)], now=NOW)
    await _send(engine, settings)
    with session_scope(engine) as session:
        out = session.exec(
            select(Message).where(
                Message.conversation_id == conversation_id, Message.direction == "out"
            )
        ).all()
    assert [(m.external_id, m.author, m.delivery_status) for m in out] == [
        (mid, "agent", "delivered")
    ]


async def test_a_sent_message_given_a_customers_message_id_never_replaces_it(
    engine: Engine,
    database_url: str,
    messenger_emulator: tuple[GraphEmulator, BackgroundServer],
) -> None:
    emulator, server = messenger_emulator
    settings = _settings(database_url, messenger_channel(server.url))
    conversation_id = _customer_wrote(engine, "messenger", "6024301887600002")
    emulator.next_ids.append("in-6024301887600002")  # the customer's own message's id, reused
    await _send(engine, settings)
    with session_scope(engine) as session:
        query = select(Message).where(Message.conversation_id == conversation_id)
        stored = session.exec(query.order_by(col(Message.id))).all()
    assert [(m.direction, m.external_id, m.delivery_status) for m in stored] == [
        ("in", "in-6024301887600002", None),
        ("out", None, "sent"),
    ]


def test_statuses_for_ids_never_sent_are_dropped_after_two_days(engine: Engine) -> None:
    with session_scope(engine) as session:
        ingest(session, [StatusUpdate("whatsapp", "wamid.OTHER-SYSTEM", "read", NOW)], now=NOW)
    with session_scope(engine) as session:
        assert trim_early_statuses(session, NOW + timedelta(days=1)) == 0
        assert trim_early_statuses(session, NOW + timedelta(days=3)) == 1
        assert session.exec(select(EarlyStatus)).all() == []
