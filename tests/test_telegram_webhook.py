"""Telegram end to end: webhook in, journal, inbox, reply out through the outbox."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from conftest import (
    TELEGRAM_SECRET,
    RunningDaemon,
    make_settings,
    telegram_channel,
    wait_for,
)
from sqlmodel import Session, func, select

from sportello.api.deps import CONFIG_TOKEN_NAME
from sportello.connectors.emulators import telegram_payloads as tg
from sportello.connectors.emulators.server import BackgroundServer
from sportello.connectors.emulators.telegram import TelegramEmulator
from sportello.inbox import journal, outbox
from sportello.inbox.models import Delivery, Message

GIULIA = tg.user(5551001, "Giulia", "Rossi", username="giuliar", language_code="it")


def _text_update(update_id: int, message_id: int, text: str) -> bytes:
    message = tg.message(message_id, GIULIA, int(time.time()), text=text)
    return json.dumps(tg.update(update_id, message=message)).encode()


def _headers(secret: str = TELEGRAM_SECRET) -> dict[str, str]:
    return {"content-type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret}


def _telegram_daemon(
    start_daemon: Callable[..., RunningDaemon],
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    database_url: str,
) -> RunningDaemon:
    """A daemon with Telegram enabled against the emulator."""
    _, emulator_server = telegram_emulator
    return start_daemon(make_settings(database_url, channels=telegram_channel(emulator_server.url)))


def test_update_is_stored_once_however_often_redelivered(
    database_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    running = _telegram_daemon(start_daemon, telegram_emulator, database_url)
    body = _text_update(900001, 42, "Ciao, il mio ordine non è arrivato")
    for _ in range(3):
        assert running.post_webhook("telegram", body, _headers()).status_code == 200

    found = wait_for(lambda: running.messages(channel="telegram", external_id="5551001:42"))
    assert len(found) == 1
    message = found[0]
    assert message["text"] == "Ciao, il mio ordine non è arrivato"
    assert message["direction"] == "in" and message["author"] == "customer"
    assert message["channel"] == "telegram"
    time.sleep(0.3)  # give a wrongly duplicated delivery the time to show up
    assert len(running.messages(channel="telegram", external_id="5551001:42")) == 1
    with Session(running.daemon.engine) as session:
        assert session.exec(select(func.count()).select_from(Delivery)).one() == 1

    customer = running.api.get(f"/api/v1/customers/{message['customer_id']}").json()
    assert customer["identities"][0]["external_id"] == "5551001"
    assert customer["identities"][0]["handle"] == "giuliar"
    assert customer["display_name"] == "Giulia Rossi"


def test_forged_secret_is_refused_and_nothing_stored(
    sqlite_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    running = _telegram_daemon(start_daemon, telegram_emulator, sqlite_url)
    body = _text_update(900002, 43, "forged")
    assert running.post_webhook("telegram", body, _headers("wrong")).status_code == 403
    no_secret = {"content-type": "application/json"}
    assert running.post_webhook("telegram", body, no_secret).status_code == 403
    with Session(running.daemon.engine) as session:
        assert session.exec(select(func.count()).select_from(Delivery)).one() == 0


def test_oversized_and_malformed_bodies(
    sqlite_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    running = _telegram_daemon(start_daemon, telegram_emulator, sqlite_url)
    huge = b'{"update_id": 1, "pad": "' + b"x" * (1024 * 1024) + b'"}'
    assert running.post_webhook("telegram", huge, _headers()).status_code == 413
    assert running.post_webhook("telegram", b"{not json", _headers()).status_code == 400
    assert running.post_webhook("whatsapp", b"{}", _headers()).status_code == 404
    assert running.post_webhook("nowhere", b"{}", _headers()).status_code == 404
    with Session(running.daemon.engine) as session:
        assert session.exec(select(func.count()).select_from(Delivery)).one() == 0


def test_unusable_delivery_is_quarantined_and_listed(
    sqlite_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    running = _telegram_daemon(start_daemon, telegram_emulator, sqlite_url)
    assert running.post_webhook("telegram", b'{"hello": "world"}', _headers()).status_code == 200
    assert running.post_webhook("telegram", b"[1, 2, 3]", _headers()).status_code == 200

    def quarantined() -> list[dict[str, Any]] | None:
        items = running.api.get("/api/v1/deliveries", params={"status": "quarantined"}).json()
        return items["items"] if len(items["items"]) == 2 else None

    items = wait_for(quarantined)
    assert all("update_id" in item["error"] for item in items)
    assert {item["body"] for item in items} == {'{"hello": "world"}', "[1, 2, 3]"}


def test_disabled_channel_answers_404(
    sqlite_url: str, start_daemon: Callable[..., RunningDaemon]
) -> None:
    running = start_daemon(make_settings(sqlite_url))
    assert running.post_webhook("telegram", b"{}", _headers()).status_code == 404


def test_api_requires_a_valid_token(
    sqlite_url: str, start_daemon: Callable[..., RunningDaemon]
) -> None:
    running = start_daemon(make_settings(sqlite_url))
    assert httpx.get(f"{running.url}/api/v1/messages").status_code == 401
    bad = {"Authorization": "Bearer nope"}
    assert httpx.get(f"{running.url}/api/v1/conversations", headers=bad).status_code == 401
    assert httpx.get(f"{running.url}/healthz").json() == {"status": "ok"}
    assert "/api/v1/messages" in httpx.get(f"{running.url}/openapi.json").json()["paths"]


def test_reply_reaches_the_emulator_through_retries(
    database_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(outbox, "FIRST_BACKOFF_S", 0.1)  # doubling from 0.1 s, retry-after kept
    emulator, emulator_server = telegram_emulator
    running = start_daemon(
        make_settings(database_url, channels=telegram_channel(emulator_server.url))
    )
    running.post_webhook("telegram", _text_update(900003, 44, "Mi aiutate?"), _headers())
    inbound = wait_for(lambda: running.messages(channel="telegram", direction="in"))[0]

    emulator.add_fault("sendMessage", 429, count=2, retry_after=1)
    emulator.add_fault("sendMessage", 500, count=1)
    response = running.api.post(
        f"/api/v1/conversations/{inbound['conversation_id']}/messages",
        json={"text": "Certo Giulia, controlliamo subito."},
    )
    assert response.status_code == 201
    queued = response.json()
    assert queued["direction"] == "out" and queued["author"] == "agent"
    assert queued["sent_by"] == CONFIG_TOKEN_NAME  # the configured token, not a user
    assert queued["delivery_status"] == "queued"

    wait_for(lambda: emulator.sent, timeout=20)
    assert emulator.sent[0]["chat_id"] == 5551001
    assert emulator.sent[0]["text"] == "Certo Giulia, controlliamo subito."

    def sent_status() -> list[dict[str, Any]] | None:
        found = running.messages(channel="telegram", direction="out")
        return found if found and found[0]["delivery_status"] == "sent" else None

    out = wait_for(sent_status)[0]
    assert out["external_id"] == f"5551001:{emulator.sent[0]['message_id']}"
    assert len(emulator.sent) == 1
    with Session(running.daemon.engine) as session:
        assert session.exec(select(func.count()).select_from(Message)).one() == 2


def test_permanent_refusal_fails_with_the_reason(
    sqlite_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, emulator_server = telegram_emulator
    running = start_daemon(
        make_settings(sqlite_url, channels=telegram_channel(emulator_server.url))
    )
    running.post_webhook("telegram", _text_update(900004, 45, "ciao"), _headers())
    inbound = wait_for(lambda: running.messages(channel="telegram", direction="in"))[0]
    emulator.add_fault("sendMessage", 403, count=1)
    running.api.post(
        f"/api/v1/conversations/{inbound['conversation_id']}/messages", json={"text": "ciao"}
    )

    def failed() -> list[dict[str, Any]] | None:
        found = running.messages(channel="telegram", direction="out")
        return found if found and found[0]["delivery_status"] == "failed" else None

    out = wait_for(failed)[0]
    assert "blocked by the user" in out["delivery_error"]
    assert emulator.sent == []


def test_inbound_messages_carry_sentiment(
    sqlite_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    running = _telegram_daemon(start_daemon, telegram_emulator, sqlite_url)
    running.post_webhook(
        "telegram", _text_update(900005, 46, "Servizio pessimo, è una vergogna!"), _headers()
    )
    running.post_webhook(
        "telegram", _text_update(900006, 47, "Thank you so much, great support!"), _headers()
    )
    found = wait_for(lambda: len(running.messages(channel="telegram")) == 2 and running.messages())
    by_text = {m["text"]: m["sentiment"] for m in found}
    negative = by_text["Servizio pessimo, è una vergogna!"]
    positive = by_text["Thank you so much, great support!"]
    assert negative["label"] == "negative" and negative["language"] == "it"
    assert positive["label"] == "positive" and positive["language"] == "en"
    conversation = running.api.get(f"/api/v1/conversations/{found[0]['conversation_id']}").json()
    assert conversation["worst_sentiment"] == negative["compound"]


def test_webhook_is_registered_with_the_secret_when_the_public_url_is_known(
    sqlite_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, emulator_server = telegram_emulator
    emulator.secret = None
    start_daemon(
        make_settings(
            sqlite_url,
            channels=telegram_channel(emulator_server.url),
            server={"public_url": "https://desk.example.com"},
        )
    )
    assert emulator.webhook_url == "https://desk.example.com/webhooks/telegram"
    assert emulator.secret == TELEGRAM_SECRET


def test_failed_deliveries_are_parsed_again_after_a_fix(
    sqlite_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    """Deliveries journaled while Telegram was misconfigured are kept, and requeued later."""
    _, emulator_server = telegram_emulator
    broken = start_daemon(make_settings(sqlite_url))  # the bot token went missing
    journal.append(
        broken.daemon.engine,
        channel="telegram",
        body=_text_update(900010, 60, "Ci siete?"),
        received_at=datetime.now(UTC),
    )
    broken.daemon.wake_worker()

    def failed() -> list[dict[str, Any]] | None:
        items = broken.api.get("/api/v1/deliveries", params={"status": "failed"}).json()["items"]
        return items or None

    assert "not configured" in wait_for(failed)[0]["error"]
    broken.server.stop()

    fixed = start_daemon(make_settings(sqlite_url, channels=telegram_channel(emulator_server.url)))
    response = fixed.api.post("/api/v1/deliveries/requeue", json={"state": "failed"})
    assert response.json() == {"requeued": 1}
    assert wait_for(lambda: fixed.messages(external_id="5551001:60"))[0]["text"] == "Ci siete?"
    assert (
        fixed.api.post("/api/v1/deliveries/requeue", json={"state": "pending"}).status_code == 422
    )


def test_a_webhook_is_counted_in_flight_until_it_is_answered(
    sqlite_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    """The journal worker steps aside while a webhook is in flight: the body arrives in two
    parts, and between them the daemon counts the request as in flight."""
    running = _telegram_daemon(start_daemon, telegram_emulator, sqlite_url)
    body = _text_update(900009, 49, "in due parti")
    busy_mid_body: list[bool] = []

    def in_two_parts() -> Iterator[bytes]:
        yield body[:10]
        busy_mid_body.append(bool(wait_for(running.daemon.intake.busy, interval=0.001)))
        yield body[10:]

    response = httpx.post(
        f"{running.url}/webhooks/telegram", content=in_two_parts(), headers=_headers(), timeout=10
    )
    assert response.status_code == 200
    assert busy_mid_body == [True]
    assert not running.daemon.intake.busy()
    assert wait_for(lambda: running.messages(channel="telegram", external_id="5551001:49"))


def test_a_body_streamed_past_1_mib_without_a_length_is_refused(
    sqlite_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    """No Content-Length to refuse early on: the daemon counts as the body streams in."""
    running = _telegram_daemon(start_daemon, telegram_emulator, sqlite_url)

    def endless_padding() -> Iterator[bytes]:
        yield b'{"update_id": 900010, "pad": "'
        for _ in range(17):
            yield b"x" * 65536

    response = httpx.post(
        f"{running.url}/webhooks/telegram",
        content=endless_padding(),
        headers=_headers(),
        timeout=10,
    )
    assert response.status_code == 413
    assert response.json() == {"detail": "body over 1 MiB"}
    with Session(running.daemon.engine) as session:
        assert session.exec(select(func.count()).select_from(Delivery)).one() == 0


def test_a_platform_that_hangs_up_mid_body_leaves_nothing_behind(
    sqlite_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    running = _telegram_daemon(start_daemon, telegram_emulator, sqlite_url)
    body = _text_update(900011, 51, "interrotto")
    host, port = running.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as hung_up:
        head = (
            "POST /webhooks/telegram HTTP/1.1\r\n"
            f"Host: {host}\r\nContent-Type: application/json\r\n"
            f"X-Telegram-Bot-Api-Secret-Token: {TELEGRAM_SECRET}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        hung_up.sendall(head.encode() + body[:20])
        wait_for(running.daemon.intake.busy, interval=0.001)
    wait_for(lambda: not running.daemon.intake.busy(), interval=0.001)
    with Session(running.daemon.engine) as session:
        assert session.exec(select(func.count()).select_from(Delivery)).one() == 0

    assert running.post_webhook("telegram", body, _headers()).status_code == 200
    assert wait_for(lambda: running.messages(channel="telegram", external_id="5551001:51"))


REFUSE_INSERTS = {
    "sqlite": [
        "CREATE TRIGGER refuse BEFORE INSERT ON deliveries "
        "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql "
        "AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$",
        "CREATE TRIGGER refuse BEFORE INSERT ON deliveries FOR EACH ROW EXECUTE FUNCTION refuse()",
    ],
}
ALLOW_INSERTS = {"sqlite": "DROP TRIGGER refuse", "postgresql": "DROP TRIGGER refuse ON deliveries"}


def test_a_delivery_the_database_refuses_is_answered_503_for_the_platform_to_retry(
    database_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    running = _telegram_daemon(start_daemon, telegram_emulator, database_url)
    engine = running.daemon.engine
    dialect = engine.dialect.name
    with engine.begin() as connection:
        for statement in REFUSE_INSERTS[dialect]:
            connection.exec_driver_sql(statement)
    body = _text_update(900012, 52, "il database è pieno")
    refused = running.post_webhook("telegram", body, _headers())
    assert refused.status_code == 503
    assert refused.json() == {"detail": "the delivery could not be stored; try again"}

    with engine.begin() as connection:
        connection.exec_driver_sql(ALLOW_INSERTS[dialect])
    assert running.post_webhook("telegram", body, _headers()).status_code == 200  # the retry
    assert wait_for(lambda: running.messages(channel="telegram", external_id="5551001:52"))
