"""Messenger end to end: signed webhooks in, the inbox, replies out through the Send API."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
from conftest import (
    META_APP_SECRET,
    META_VERIFY_TOKEN,
    PAGE_ID,
    RunningDaemon,
    make_settings,
    messenger_channel,
    wait_for,
)
from sqlmodel import Session, SQLModel, func, select

from sportello.connectors.base import SendResult
from sportello.connectors.emulators import meta_payloads as mp
from sportello.connectors.emulators.meta import GraphEmulator
from sportello.connectors.emulators.server import BackgroundServer
from sportello.connectors.meta import signature
from sportello.inbox.models import Delivery, Message

PSID = "6024301887612345"
OTHER_PSID = "7135412998723456"


def _now_ms(hours_ago: float = 0) -> int:
    return int((time.time() - hours_ago * 3600) * 1000)


def _start(
    start_daemon: Callable[..., RunningDaemon],
    database_url: str,
    emulator_fixture: tuple[GraphEmulator, BackgroundServer],
    **channel_extra: Any,
) -> tuple[GraphEmulator, RunningDaemon]:
    emulator, server = emulator_fixture
    running = start_daemon(
        make_settings(database_url, channels=messenger_channel(server.url, **channel_extra))
    )
    emulator.webhook_url = f"{running.url}/webhooks/messenger"
    return emulator, running


def _deliver(emulator: GraphEmulator, *events: dict[str, Any]) -> int:
    payload = mp.messenger_webhook(PAGE_ID, *events, time_ms=_now_ms())
    return asyncio.run(emulator.deliver(payload))


def _count(running: RunningDaemon, model: type[SQLModel]) -> int:
    with Session(running.daemon.engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def test_handshake_answers_the_challenge_only_with_the_token(
    sqlite_url: str,
    messenger_emulator: tuple[GraphEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    _, running = _start(start_daemon, sqlite_url, messenger_emulator)
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": META_VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    ok = httpx.get(f"{running.url}/webhooks/messenger", params=query)
    assert ok.status_code == 200 and ok.text == "1158201444"
    wrong = httpx.get(
        f"{running.url}/webhooks/messenger", params={**query, "hub.verify_token": "x"}
    )
    assert wrong.status_code == 403
    no_mode = httpx.get(
        f"{running.url}/webhooks/messenger", params={**query, "hub.mode": "unsubscribe"}
    )
    assert no_mode.status_code == 403


def test_forged_or_missing_signature_is_refused_and_nothing_stored(
    sqlite_url: str,
    messenger_emulator: tuple[GraphEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    _, running = _start(start_daemon, sqlite_url, messenger_emulator)
    body = json.dumps(
        mp.messenger_webhook(PAGE_ID, mp.text_message(PSID, PAGE_ID, _now_ms(), "x"), time_ms=1)
    ).encode()
    headers = {"content-type": "application/json"}
    assert running.post_webhook("messenger", body, headers).status_code == 403
    forged = {**headers, "X-Hub-Signature-256": signature("not-the-secret", body)}
    assert running.post_webhook("messenger", body, forged).status_code == 403
    tampered = {**headers, "X-Hub-Signature-256": signature(META_APP_SECRET, body + b" ")}
    assert running.post_webhook("messenger", body, tampered).status_code == 403
    assert _count(running, Delivery) == 0
    good = {**headers, "X-Hub-Signature-256": signature(META_APP_SECRET, body)}
    assert running.post_webhook("messenger", body, good).status_code == 200


def test_batches_and_redeliveries_store_each_message_once(
    database_url: str,
    messenger_emulator: tuple[GraphEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, running = _start(start_daemon, database_url, messenger_emulator)
    at = _now_ms()
    first = mp.text_message(PSID, PAGE_ID, at, "Ciao, il mio ordine?", "m_first")
    batch = {
        "object": "page",
        "entry": [
            mp.messenger_entry(
                PAGE_ID,
                [first, mp.postback(PSID, PAGE_ID, at + 1, "Assistenza", "HELP", "m_pb")],
                at,
            ),
            mp.messenger_entry(
                PAGE_ID,
                [
                    mp.text_message(OTHER_PSID, PAGE_ID, at + 2, "Hello there", "m_other"),
                    mp.reaction(OTHER_PSID, PAGE_ID, at + 3, "m_other"),
                ],
                at,
            ),
        ],
    }
    assert asyncio.run(emulator.deliver(batch)) == 200
    assert asyncio.run(emulator.deliver(batch)) == 200  # the same delivery again
    assert _deliver(emulator, first) == 200  # the same message in another delivery

    found = wait_for(lambda: (m := running.messages(channel="messenger")) and len(m) == 3 and m)
    assert {m["external_id"]: m["text"] for m in found} == {
        "m_first": "Ciao, il mio ordine?",
        "m_pb": "Assistenza",
        "m_other": "Hello there",
    }
    assert all(m["direction"] == "in" and m["author"] == "customer" for m in found)
    wait_for(lambda: _processed(running) == 2)
    time.sleep(0.2)
    assert len(running.messages(channel="messenger")) == 3
    customer = running.api.get(f"/api/v1/customers/{found[0]['customer_id']}").json()
    assert customer["identities"][0]["channel"] == "messenger"
    assert customer["identities"][0]["external_id"] in (PSID, OTHER_PSID)


def _processed(running: RunningDaemon) -> int:
    with Session(running.daemon.engine) as session:
        rows = session.exec(select(Delivery.state)).all()
    return sum(1 for state in rows if state == "processed")


def test_edits_echoes_and_receipts(
    database_url: str,
    messenger_emulator: tuple[GraphEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, running = _start(start_daemon, database_url, messenger_emulator)
    at = _now_ms(hours_ago=1)
    _deliver(emulator, mp.text_message(PSID, PAGE_ID, at, "Ordine 4411 in ritardo", "m_in"))
    wait_for(lambda: running.messages(channel="messenger", external_id="m_in"))
    _deliver(emulator, mp.message_edit(PSID, PAGE_ID, at + 10, "m_in", "Ordine 4412 in ritardo"))
    wait_for(lambda: running.messages(external_id="m_in")[0]["text"] == "Ordine 4412 in ritardo")

    # an agent answers from Meta Business Suite: the echo is an outbound agent message
    _deliver(emulator, mp.echo(PAGE_ID, PSID, at + 20, "Lo verifichiamo subito", "m_suite"))
    echo = wait_for(lambda: running.messages(external_id="m_suite"))[0]
    assert (echo["direction"], echo["author"], echo["delivery_status"]) == ("out", "agent", "sent")
    assert echo["conversation_id"] == running.messages(external_id="m_in")[0]["conversation_id"]
    assert echo["customer_id"] == running.messages(external_id="m_in")[0]["customer_id"]

    # delivery by mid, then read by watermark
    _deliver(emulator, mp.delivery(PSID, PAGE_ID, at + 30, ["m_suite"], at + 25))
    wait_for(lambda: running.messages(external_id="m_suite")[0]["delivery_status"] == "delivered")
    _deliver(emulator, mp.read(PSID, PAGE_ID, at + 40, at + 35))
    wait_for(lambda: running.messages(external_id="m_suite")[0]["delivery_status"] == "read")
    # a status-only delivery about an unknown message changes nothing and is processed
    _deliver(emulator, mp.delivery(PSID, PAGE_ID, at + 50, ["m_unknown"], at + 45))
    wait_for(lambda: _processed(running) == 6)
    assert len(running.messages(channel="messenger")) == 2


def test_reply_echo_does_not_duplicate_the_stored_message(
    database_url: str,
    messenger_emulator: tuple[GraphEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, running = _start(start_daemon, database_url, messenger_emulator)
    _deliver(emulator, mp.text_message(PSID, PAGE_ID, _now_ms(), "Mi aiutate?", "m_q"))
    inbound = wait_for(lambda: running.messages(external_id="m_q"))[0]
    emulator.add_fault(429, 4, count=1)
    emulator.add_fault(503, 2, count=1)
    response = running.api.post(
        f"/api/v1/conversations/{inbound['conversation_id']}/messages",
        json={"text": "Certo, ci pensiamo noi."},
    )
    assert response.status_code == 201
    wait_for(lambda: emulator.sent, timeout=20)
    sent = emulator.sent[0]
    assert sent["body"] == {
        "recipient": {"id": PSID},
        "messaging_type": "RESPONSE",
        "message": {"text": "Certo, ci pensiamo noi.", "metadata": "sportello"},
    }
    mid = sent["message_id"]
    out = wait_for(lambda: running.messages(channel="messenger", external_id=mid))[0]
    assert out["delivery_status"] == "sent" and out["author"] == "agent"

    # Meta echoes it back: with our metadata marker, and (older apps) without it
    _deliver(
        emulator,
        mp.echo(PAGE_ID, PSID, _now_ms(), "Certo, ci pensiamo noi.", mid, metadata="sportello"),
    )
    _deliver(emulator, mp.echo(PAGE_ID, PSID, _now_ms(), "Certo, ci pensiamo noi.", mid))
    wait_for(lambda: _processed(running) == 3)
    assert len(running.messages(channel="messenger", external_id=mid)) == 1
    assert _count(running, Message) == 2
    assert len(emulator.sent) == 1


def test_outside_the_window_the_api_refuses_with_a_reason(
    database_url: str,
    messenger_emulator: tuple[GraphEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, running = _start(start_daemon, database_url, messenger_emulator)
    _deliver(emulator, mp.text_message(PSID, PAGE_ID, _now_ms(hours_ago=30), "Ciao", "m_old"))
    inbound = wait_for(lambda: running.messages(external_id="m_old"))[0]
    response = running.api.post(
        f"/api/v1/conversations/{inbound['conversation_id']}/messages", json={"text": "Eccoci"}
    )
    assert response.status_code == 409
    assert "24 hours" in response.json()["detail"]
    assert "message_tag" in response.json()["detail"]
    assert _count(running, Message) == 1
    assert emulator.sent == []


def test_outside_the_window_a_configured_tag_is_used(
    database_url: str,
    messenger_emulator: tuple[GraphEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, running = _start(
        start_daemon, database_url, messenger_emulator, message_tag="HUMAN_AGENT"
    )
    _deliver(emulator, mp.text_message(PSID, PAGE_ID, _now_ms(hours_ago=30), "Ciao", "m_old2"))
    inbound = wait_for(lambda: running.messages(external_id="m_old2"))[0]
    response = running.api.post(
        f"/api/v1/conversations/{inbound['conversation_id']}/messages", json={"text": "Eccoci"}
    )
    assert response.status_code == 201
    wait_for(lambda: emulator.sent)
    body = emulator.sent[0]["body"]
    assert (body["messaging_type"], body["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")


def test_platform_refusals_fail_with_the_platform_reason(
    sqlite_url: str,
    messenger_emulator: tuple[GraphEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, running = _start(start_daemon, sqlite_url, messenger_emulator)
    _deliver(emulator, mp.text_message(PSID, PAGE_ID, _now_ms(), "Ciao", "m_r"))
    inbound = wait_for(lambda: running.messages(external_id="m_r"))[0]
    emulator.add_fault(400, 190, count=1)
    emulator.add_fault(400, 10, subcode=2018278, count=1)
    url = f"/api/v1/conversations/{inbound['conversation_id']}/messages"
    assert running.api.post(url, json={"text": "uno"}).status_code == 201

    def failed(count: int) -> list[dict[str, Any]] | None:
        found = [m for m in running.messages(direction="out") if m["delivery_status"] == "failed"]
        return found if len(found) == count else None

    first = wait_for(lambda: failed(1))[0]
    assert "access token expired" in first["delivery_error"]
    assert running.api.post(url, json={"text": "due"}).status_code == 201
    errors = {m["text"]: m["delivery_error"] for m in wait_for(lambda: failed(2))}
    assert "window is closed" in errors["due"]
    assert emulator.sent == []


def test_buttons_become_quick_replies(
    sqlite_url: str, messenger_emulator: tuple[GraphEmulator, BackgroundServer]
) -> None:
    from datetime import UTC, datetime

    from sportello.connectors.base import Button, OutboundMessage
    from sportello.connectors.messenger import MessengerConnector

    emulator, server = messenger_emulator
    connector = MessengerConnector.from_settings(
        make_settings(sqlite_url, channels=messenger_channel(server.url))
    )
    assert connector is not None
    outbound = OutboundMessage(
        channel="messenger",
        thread_external_id=PSID,
        recipient_external_id=PSID,
        text="Com'è andata?",
        purpose="survey",
        buttons=(Button("Bene", "CSAT_5"), Button("Così così, potrebbe andare meglio", "CSAT_3")),
        last_customer_message_at=datetime.now(UTC),
    )

    async def send() -> SendResult:
        try:
            return await connector.send(outbound)
        finally:
            await connector.aclose()

    result = asyncio.run(send())
    assert result.external_ids == (emulator.sent[0]["message_id"],)
    assert emulator.sent[0]["body"]["message"]["quick_replies"] == [
        {"content_type": "text", "title": "Bene", "payload": "CSAT_5"},
        {"content_type": "text", "title": "Così così, potrebbe…", "payload": "CSAT_3"},
    ]


def test_receipts_played_by_the_platform_reach_read(
    database_url: str,
    messenger_emulator: tuple[GraphEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, running = _start(start_daemon, database_url, messenger_emulator)
    emulator.auto_receipts = True  # echo, delivery and read after each send, as the demo plays
    _deliver(emulator, mp.text_message(PSID, PAGE_ID, _now_ms(), "C'è la taglia M?", "m_size"))
    inbound = wait_for(lambda: running.messages(external_id="m_size"))[0]
    url = f"/api/v1/conversations/{inbound['conversation_id']}/messages"
    assert running.api.post(url, json={"text": "Sì, disponibile."}).status_code == 201
    out = wait_for(
        lambda: (m := running.messages(direction="out")) and m[0]["delivery_status"] == "read" and m
    )
    assert len(out) == 1 and out[0]["external_id"] == emulator.sent[0]["message_id"]
    assert emulator.webhook_statuses[-1] == 200


def test_customers_are_named_through_the_user_profile_api(
    database_url: str,
    messenger_emulator: tuple[GraphEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    """Messenger webhooks carry no names: the daemon asks the User Profile API once."""
    emulator, running = _start(start_daemon, database_url, messenger_emulator)
    emulator.profiles[PSID] = {"first_name": "Marco", "last_name": "Bianchi"}
    _deliver(emulator, mp.text_message(PSID, PAGE_ID, _now_ms(), "Ciao!", "m_named"))
    _deliver(emulator, mp.text_message(OTHER_PSID, PAGE_ID, _now_ms(), "Hi", "m_unknown"))

    def names() -> dict[str, str | None] | None:
        found = {
            m["external_id"]: running.api.get(f"/api/v1/customers/{m['customer_id']}").json()
            for m in running.messages(channel="messenger")
        }
        if len(found) < 2 or found["m_named"]["display_name"] is None:
            return None
        return {k: v["display_name"] for k, v in found.items()}

    assert wait_for(names) == {"m_named": "Marco Bianchi", "m_unknown": None}
