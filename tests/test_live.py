"""Live updates: the broadcaster, the database poll for other replicas, the SSE stream."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from conftest import TELEGRAM_SECRET, RunningDaemon, make_settings, telegram_channel

from sportello.connectors.base import InboundMessage, Person, Thread
from sportello.connectors.emulators import telegram_payloads as tg
from sportello.connectors.emulators.server import BackgroundServer
from sportello.connectors.emulators.telegram import TelegramEmulator
from sportello.inbox import live
from sportello.inbox.db import make_engine, migrate, session_scope
from sportello.inbox.ingest import ingest
from sportello.inbox.live import Broadcaster
from sportello.inbox.teams import find_team, rename_team, save_team


async def test_events_published_from_threads_reach_every_subscriber() -> None:
    broadcaster = Broadcaster()
    broadcaster.attach(asyncio.get_running_loop())
    async with broadcaster.subscribe() as first, broadcaster.subscribe() as second:
        worker = threading.Thread(
            target=broadcaster.publish, args=("message.created",), kwargs={"conversation_id": 7}
        )
        worker.start()
        worker.join()
        for subscription in (first, second):
            event = await subscription.next(timeout=5)
            assert event is not None
            assert (event.kind, event.data) == ("message.created", {"conversation_id": 7})
        assert (await first.next(timeout=0.01)).kind == "ping"  # type: ignore[union-attr]
        broadcaster.close()
        assert await first.next(timeout=5) is None
    assert broadcaster.subscribers == 0


async def test_a_subscriber_that_falls_behind_is_told_to_resync() -> None:
    broadcaster = Broadcaster()
    broadcaster.attach(asyncio.get_running_loop())
    async with broadcaster.subscribe() as subscription:
        for number in range(live.QUEUE_SIZE + 10):
            broadcaster.publish("message.created", message_id=number)
        await asyncio.sleep(0)  # let the loop run the deliveries
        event = await subscription.next(timeout=5)
        assert event is not None and event.kind == "sync"
        assert (await subscription.next(timeout=0.01)).kind == "ping"  # type: ignore[union-attr]


async def test_database_poll_notices_what_another_replica_wrote(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate(engine)
    broadcaster = Broadcaster()
    broadcaster.attach(asyncio.get_running_loop())
    assert broadcaster.poll_database(engine) is False  # nobody listens: no query at all
    async with broadcaster.subscribe() as subscription:
        assert broadcaster.poll_database(engine) is False  # first look: bearings only
        assert broadcaster.poll_database(engine) is False  # nothing moved
        now = datetime.now(UTC)
        with session_scope(engine) as session:  # "another replica" ingests a message
            ingest(
                session,
                [
                    InboundMessage(
                        channel="telegram",
                        external_id="42:1",
                        thread=Thread("42"),
                        customer=Person("42", display_name="Ada"),
                        sent_at=now,
                        text="hello",
                    )
                ],
                now=now,
            )
        assert broadcaster.poll_database(engine) is True
        event = await subscription.next(timeout=5)
        assert event is not None and event.kind == "sync"
        with session_scope(engine) as session:  # ... and makes a team, then renames it
            save_team(session, "billing", [], now)
        assert broadcaster.poll_database(engine) is True
        event = await subscription.next(timeout=5)
        assert event is not None and event.kind == "teams.changed"
        with session_scope(engine) as session:
            found = find_team(session, "billing")
            assert found is not None
            rename_team(session, found, "fatture", now + timedelta(seconds=1), "admin")
        assert broadcaster.poll_database(engine) is True
        event = await subscription.next(timeout=5)
        assert event is not None and event.kind == "teams.changed"
        assert broadcaster.poll_database(engine) is False
    engine.dispose()


def _events(response: httpx.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    """(kind, data) of each server-sent event, as they arrive."""
    kind, data = "message", ""
    for line in response.iter_lines():
        if line.startswith("event: "):
            kind = line[len("event: ") :]
        elif line.startswith("data: "):
            data = line[len("data: ") :]
        elif line == "" and data:
            yield kind, json.loads(data)
            kind, data = "message", ""


def test_event_stream_announces_a_new_message(
    database_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    _, emulator_server = telegram_emulator
    running = start_daemon(
        make_settings(database_url, channels=telegram_channel(emulator_server.url))
    )
    assert httpx.get(f"{running.url}/api/v1/events").status_code == 401
    sender = tg.user(5551001, "Giulia", "Rossi")
    update = tg.update(800001, message=tg.message(9, sender, int(time.time()), text="ci siete?"))
    with running.api.stream("GET", "/api/v1/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = _events(response)
        assert next(events) == ("hello", {"user": "api"})
        running.post_webhook(
            "telegram",
            json.dumps(update).encode(),
            {
                "content-type": "application/json",
                "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET,
            },
        )
        data = next(d for k, d in events if k == "message.created")
    stored = running.messages(external_id="5551001:9")[0]
    assert data["message_id"] == stored["id"]
    assert data["conversation_id"] == stored["conversation_id"]
    assert (data["channel"], data["direction"]) == ("telegram", "in")


def test_event_stream_announces_replies_and_their_delivery(
    sqlite_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, emulator_server = telegram_emulator
    running = start_daemon(
        make_settings(sqlite_url, channels=telegram_channel(emulator_server.url))
    )
    sender = tg.user(5551002, "Marco", "Bianchi")
    message_id = emulator.next_message_id(5551002)  # the chat's ids are shared with our replies
    update = tg.update(
        800002, message=tg.message(message_id, sender, int(time.time()), text="ciao")
    )
    headers = {
        "content-type": "application/json",
        "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET,
    }
    with running.api.stream("GET", "/api/v1/events") as response:
        events = _events(response)
        next(events)  # hello: subscribed, so the message's event cannot slip by before
        running.post_webhook("telegram", json.dumps(update).encode(), headers)
        conversation_id = next(d for k, d in events if k == "message.created")["conversation_id"]
        path = f"/api/v1/conversations/{conversation_id}"
        running.api.patch(path, json={"assignee": "api"})
        kind, data = next(events)
        assert (kind, data) == (
            "conversation.updated",  # handed over: whose it is now, for their inbox
            {"conversation_id": conversation_id, "actor": "api", "assignee": "api"},
        )
        running.api.patch(path, json={"priority": 2, "assignee": "api"})  # still theirs
        assert next(events) == (
            "conversation.updated",
            {"conversation_id": conversation_id, "actor": "api"},
        )
        reply = running.api.post(
            f"/api/v1/conversations/{conversation_id}/messages", json={"text": "eccomi"}
        ).json()
        updates = (d for k, d in events if k == "message.updated")
        sent = next(d for d in updates if d["message_id"] == reply["id"])
    assert sent["delivery_status"] == "sent" and sent["direction"] == "out"
    assert emulator.sent[0]["text"] == "eccomi"
