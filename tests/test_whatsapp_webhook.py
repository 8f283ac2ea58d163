"""WhatsApp Cloud API end to end: signed webhooks in, the inbox, replies and templates out."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from conftest import (
    META_APP_SECRET,
    META_VERIFY_TOKEN,
    PHONE_NUMBER_ID,
    RunningDaemon,
    make_settings,
    wait_for,
    whatsapp_channel,
)
from sqlmodel import Session, SQLModel, func, select

from sportello.connectors.base import Button, OutboundMessage, SendResult
from sportello.connectors.emulators import meta_payloads as mp
from sportello.connectors.emulators.meta import GraphEmulator
from sportello.connectors.emulators.server import BackgroundServer
from sportello.connectors.meta import signature
from sportello.connectors.whatsapp import WhatsAppConnector
from sportello.inbox import outbox
from sportello.inbox.models import Delivery, Message

WABA_ID = "102290129340398"
WA_ID = "393331234567"
OTHER_WA_ID = "447700900123"


def _now(hours_ago: float = 0) -> int:
    return int(time.time() - hours_ago * 3600)


def _start(
    start_daemon: Callable[..., RunningDaemon],
    database_url: str,
    emulator_fixture: tuple[GraphEmulator, BackgroundServer],
    **channel_extra: Any,
) -> tuple[GraphEmulator, RunningDaemon]:
    emulator, server = emulator_fixture
    running = start_daemon(
        make_settings(database_url, channels=whatsapp_channel(server.url, **channel_extra))
    )
    emulator.webhook_url = f"{running.url}/webhooks/whatsapp"
    return emulator, running


def _deliver(emulator: GraphEmulator, **value_parts: Any) -> int:
    value = mp.wa_value(PHONE_NUMBER_ID, **value_parts)
    return asyncio.run(emulator.deliver(mp.whatsapp_webhook(WABA_ID, value)))


def _say(
    emulator: GraphEmulator, text: str, wamid: str, hours_ago: float = 0, wa_id: str = WA_ID
) -> int:
    return _deliver(
        emulator,
        contacts=[mp.wa_contact(wa_id, "Giulia Rossi")],
        messages=[mp.wa_text(wa_id, _now(hours_ago), text, wamid)],
    )


def _processed(running: RunningDaemon) -> int:
    with Session(running.daemon.engine) as session:
        return sum(1 for s in session.exec(select(Delivery.state)).all() if s == "processed")


def _count(running: RunningDaemon, model: type[SQLModel]) -> int:
    with Session(running.daemon.engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def test_handshake_and_signatures(
    sqlite_url: str,
    whatsapp_emulator: tuple[GraphEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    _, running = _start(start_daemon, sqlite_url, whatsapp_emulator)
    query = {"hub.mode": "subscribe", "hub.verify_token": META_VERIFY_TOKEN, "hub.challenge": "42"}
    ok = httpx.get(f"{running.url}/webhooks/whatsapp", params=query)
    assert ok.status_code == 200 and ok.text == "42"
    bad = httpx.get(f"{running.url}/webhooks/whatsapp", params={**query, "hub.verify_token": "no"})
    assert bad.status_code == 403
    body = json.dumps(
        mp.whatsapp_webhook(
            WABA_ID, mp.wa_value(PHONE_NUMBER_ID, messages=[mp.wa_text(WA_ID, 1, "x")])
        )
    ).encode()
    headers = {"content-type": "application/json"}
    assert running.post_webhook("whatsapp", body, headers).status_code == 403
    forged = {**headers, "X-Hub-Signature-256": signature("guess", body)}
    assert running.post_webhook("whatsapp", body, forged).status_code == 403
    assert _count(running, Delivery) == 0
    signed = {**headers, "X-Hub-Signature-256": signature(META_APP_SECRET, body)}
    assert running.post_webhook("whatsapp", body, signed).status_code == 200


def test_batched_duplicated_and_unknown_deliveries(
    database_url: str,
    whatsapp_emulator: tuple[GraphEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, running = _start(start_daemon, database_url, whatsapp_emulator)
    at = _now()
    first = mp.wa_text(WA_ID, at, "Ciao, dov'è il mio ordine?", "wamid.G1")
    batch = {
        "object": "whatsapp_business_account",
        "entry": [
            mp.whatsapp_entry(
                WABA_ID,
                [
                    mp.wa_value(
                        PHONE_NUMBER_ID,
                        contacts=[mp.wa_contact(WA_ID, "Giulia Rossi")],
                        messages=[
                            first,
                            mp.wa_message(
                                WA_ID,
                                at + 1,
                                "image",
                                mp.wa_media("image", "9001", "image/jpeg", caption="lo scontrino"),
                                "wamid.G2",
                            ),
                            mp.wa_message(
                                WA_ID, at + 2, "reaction", {"message_id": "wamid.G1", "emoji": "👍"}
                            ),
                        ],
                    )
                ],
            ),
            mp.whatsapp_entry(
                WABA_ID,
                [
                    mp.wa_value(
                        PHONE_NUMBER_ID,
                        contacts=[mp.wa_contact(OTHER_WA_ID, "Emma Clarke")],
                        messages=[mp.wa_unsupported(OTHER_WA_ID, at + 3, "wamid.E1")],
                    )
                ],
            ),
        ],
    }
    assert asyncio.run(emulator.deliver(batch)) == 200
    assert asyncio.run(emulator.deliver(batch)) == 200
    assert _deliver(emulator, messages=[first]) == 200  # a redelivery in another shape

    found = wait_for(lambda: (m := running.messages(channel="whatsapp")) and len(m) == 3 and m)
    by_id = {m["external_id"]: m for m in found}
    assert by_id["wamid.G1"]["text"] == "Ciao, dov'è il mio ordine?"
    assert (by_id["wamid.G2"]["kind"], by_id["wamid.G2"]["text"]) == ("media", "lo scontrino")
    assert by_id["wamid.E1"]["kind"] == "unsupported"
    wait_for(lambda: _processed(running) == 2)
    time.sleep(0.2)
    assert len(running.messages(channel="whatsapp")) == 3

    customer = running.api.get(f"/api/v1/customers/{by_id['wamid.G1']['customer_id']}").json()
    identity = customer["identities"][0]
    assert (identity["external_id"], identity["phone"]) == (WA_ID, "+393331234567")
    assert customer["display_name"] == "Giulia Rossi"


def test_statuses_update_delivery_status(
    database_url: str,
    whatsapp_emulator: tuple[GraphEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, running = _start(start_daemon, database_url, whatsapp_emulator)
    _say(emulator, "Mi aiutate?", "wamid.Q1")
    inbound = wait_for(lambda: running.messages(external_id="wamid.Q1"))[0]
    url = f"/api/v1/conversations/{inbound['conversation_id']}/messages"
    assert running.api.post(url, json={"text": "Certo!"}).status_code == 201
    assert running.api.post(url, json={"text": "Un attimo"}).status_code == 201
    wait_for(lambda: len(emulator.sent) == 2)
    ids = {s["body"]["text"]["body"]: s["message_id"] for s in emulator.sent}
    assert emulator.sent[0]["body"] == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": WA_ID,
        "type": "text",
        "text": {"preview_url": False, "body": emulator.sent[0]["body"]["text"]["body"]},
    }
    wait_for(lambda: all(running.messages(external_id=i) for i in ids.values()))

    now = _now()
    error = mp.wa_error(131026, "Message undeliverable", "Receiver is incapable of receiving")
    _deliver(
        emulator,
        statuses=[
            mp.wa_status(ids["Certo!"], "delivered", now, WA_ID),
            mp.wa_status(ids["Certo!"], "read", now + 1, WA_ID),
            mp.wa_status(ids["Certo!"], "delivered", now + 2, WA_ID),  # late, out of order
            mp.wa_status(ids["Un attimo"], "failed", now, WA_ID, errors=[error]),
        ],
    )

    def settled() -> tuple[dict[str, Any], dict[str, Any]] | None:
        failed = running.messages(external_id=ids["Un attimo"])[0]  # first: same transaction
        read = running.messages(external_id=ids["Certo!"])[0]
        return (read, failed) if failed["delivery_status"] == "failed" else None

    read, failed = wait_for(settled)
    assert read["delivery_status"] == "read"
    assert "131026" in failed["delivery_error"] and "incapable" in failed["delivery_error"]
    assert _count(running, Message) == 3


def test_outside_the_window_without_a_template_the_api_refuses(
    database_url: str,
    whatsapp_emulator: tuple[GraphEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, running = _start(start_daemon, database_url, whatsapp_emulator)
    _say(emulator, "Ciao", "wamid.OLD", hours_ago=25)
    inbound = wait_for(lambda: running.messages(external_id="wamid.OLD"))[0]
    response = running.api.post(
        f"/api/v1/conversations/{inbound['conversation_id']}/messages", json={"text": "Eccoci"}
    )
    assert response.status_code == 409
    parts = f"/api/v1/conversations/{inbound['conversation_id']}/parts"
    assert running.api.post(parts, json={"text": "Eccoci"}).status_code == 409
    detail = response.json()["detail"]
    assert "24 hours" in detail and "channels.whatsapp.templates.reply" in detail
    assert _count(running, Message) == 1
    assert emulator.sent == []


def test_outside_the_window_the_configured_template_is_sent(
    database_url: str,
    whatsapp_emulator: tuple[GraphEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, running = _start(
        start_daemon,
        database_url,
        whatsapp_emulator,
        templates={"reply": "agent_follow_up"},
        template_language="it",
    )
    _say(emulator, "Ciao", "wamid.OLD2", hours_ago=25)
    inbound = wait_for(lambda: running.messages(external_id="wamid.OLD2"))[0]
    long_text = "Il rimborso è stato emesso. " * 200  # 5,600 characters, one template
    parts = f"/api/v1/conversations/{inbound['conversation_id']}/parts"
    assert running.api.post(parts, json={"text": long_text}).json() == {"parts": 1}
    response = running.api.post(
        f"/api/v1/conversations/{inbound['conversation_id']}/messages",
        json={"text": "Il rimborso è stato emesso.\nBuona giornata!"},
    )
    assert response.status_code == 201
    wait_for(lambda: emulator.sent)
    body = emulator.sent[0]["body"]
    assert body["type"] == "template"
    assert body["template"] == {
        "name": "agent_follow_up",
        "language": {"code": "it"},
        "components": [
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": "Il rimborso è stato emesso. Buona giornata!"}
                ],
            }
        ],
    }
    out = wait_for(lambda: running.messages(external_id=emulator.sent[0]["message_id"]))[0]
    assert out["delivery_status"] == "sent"


def test_retries_on_rate_limits_and_server_errors(
    sqlite_url: str,
    whatsapp_emulator: tuple[GraphEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(outbox, "FIRST_BACKOFF_S", 0.1)  # doubling from 0.1 s, retry-after kept
    emulator, running = _start(start_daemon, sqlite_url, whatsapp_emulator)
    _say(emulator, "Ciao", "wamid.R1")
    inbound = wait_for(lambda: running.messages(external_id="wamid.R1"))[0]
    emulator.add_fault(429, 130429, count=1, retry_after=1)
    emulator.add_fault(400, 80007, count=1)
    emulator.add_fault(500, 131000, count=1)
    response = running.api.post(
        f"/api/v1/conversations/{inbound['conversation_id']}/messages", json={"text": "Eccoci"}
    )
    assert response.status_code == 201
    wait_for(lambda: emulator.sent, timeout=30)
    out = wait_for(
        lambda: (m := running.messages(direction="out")) and m[0]["delivery_status"] == "sent" and m
    )[0]
    assert out["external_id"] == emulator.sent[0]["message_id"]
    assert len(emulator.sent) == 1


def test_platform_refusals(
    sqlite_url: str,
    whatsapp_emulator: tuple[GraphEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, running = _start(start_daemon, sqlite_url, whatsapp_emulator)
    _say(emulator, "Ciao", "wamid.P1")
    inbound = wait_for(lambda: running.messages(external_id="wamid.P1"))[0]
    url = f"/api/v1/conversations/{inbound['conversation_id']}/messages"
    expected = {
        "uno": (131047, "window is closed"),
        "due": (131026, "Message undeliverable"),
        "tre": (190, "access token expired"),
    }
    for text, (code, _) in expected.items():
        emulator.add_fault(401 if code == 190 else 400, code, count=1)
        assert running.api.post(url, json={"text": text}).status_code == 201

        def failed(text: str = text) -> list[dict[str, Any]] | None:
            found = [m for m in running.messages(direction="out") if m["text"] == text]
            return found if found and found[0]["delivery_status"] == "failed" else None

        message = wait_for(failed)[0]
        assert expected[text][1] in message["delivery_error"]
    assert emulator.sent == []


def _send(server_url: str, sqlite_url: str, outbound: OutboundMessage, **extra: Any) -> SendResult:
    connector = WhatsAppConnector.from_settings(
        make_settings(sqlite_url, channels=whatsapp_channel(server_url, **extra))
    )
    assert connector is not None

    async def send() -> SendResult:
        try:
            return await connector.send(outbound)
        finally:
            await connector.aclose()

    return asyncio.run(send())


def _outbound(buttons: tuple[Button, ...], **fields: Any) -> OutboundMessage:
    return OutboundMessage(
        channel="whatsapp",
        thread_external_id=WA_ID,
        recipient_external_id=WA_ID,
        text="Com'è andata la nostra assistenza?",
        purpose="survey",
        buttons=buttons,
        last_customer_message_at=datetime.now(UTC) - timedelta(hours=1),
        **fields,
    )


def test_buttons_are_reply_buttons_up_to_three_then_a_list(
    sqlite_url: str, whatsapp_emulator: tuple[GraphEmulator, BackgroundServer]
) -> None:
    emulator, server = whatsapp_emulator
    three = tuple(
        Button(label, f"CSAT_{n}") for n, label in ((5, "Bene"), (3, "Così così"), (1, "Male"))
    )
    _send(server.url, sqlite_url, _outbound(three, reply_to_external_id="wamid.CTX"))
    body = emulator.sent[0]["body"]
    assert body["context"] == {"message_id": "wamid.CTX"}
    assert body["interactive"]["type"] == "button"
    assert [b["reply"] for b in body["interactive"]["action"]["buttons"]] == [
        {"id": "CSAT_5", "title": "Bene"},
        {"id": "CSAT_3", "title": "Così così"},
        {"id": "CSAT_1", "title": "Male"},
    ]
    five = tuple(Button(f"Voto {n}", f"CSAT_{n}") for n in range(5, 0, -1))
    _send(server.url, sqlite_url, _outbound(five))
    listed = emulator.sent[1]["body"]["interactive"]
    assert listed["type"] == "list"
    assert listed["body"] == {"text": "Com'è andata la nostra assistenza?"}
    assert [r["id"] for r in listed["action"]["sections"][0]["rows"]] == [
        f"CSAT_{n}" for n in range(5, 0, -1)
    ]


def test_survey_outside_the_window_uses_its_template(
    sqlite_url: str, whatsapp_emulator: tuple[GraphEmulator, BackgroundServer]
) -> None:
    emulator, server = whatsapp_emulator
    old = _outbound((), reply_to_external_id=None)
    old = OutboundMessage(
        **{**old.__dict__, "last_customer_message_at": datetime.now(UTC) - timedelta(days=2)}
    )
    result = _send(
        server.url, sqlite_url, old, templates={"survey": "csat_v2"}, template_language="en"
    )
    assert result.external_ids == (emulator.sent[0]["message_id"],)
    template = emulator.sent[0]["body"]["template"]
    assert (template["name"], template["language"]["code"]) == ("csat_v2", "en")


def test_the_daemon_clock_times_sends_and_windows(
    database_url: str,
    whatsapp_emulator: tuple[GraphEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    from sportello.inbox.clock import FrozenClock

    emulator, server = whatsapp_emulator
    wrote_at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    clock = FrozenClock(wrote_at + timedelta(hours=23))
    running = start_daemon(
        make_settings(database_url, channels=whatsapp_channel(server.url)), clock=clock
    )
    emulator.webhook_url = f"{running.url}/webhooks/whatsapp"
    _deliver(emulator, messages=[mp.wa_text(WA_ID, int(wrote_at.timestamp()), "Ciao", "wamid.C")])
    inbound = wait_for(lambda: running.messages(external_id="wamid.C"))[0]
    url = f"/api/v1/conversations/{inbound['conversation_id']}/messages"
    assert running.api.post(url, json={"text": "In tempo"}).status_code == 201
    out = wait_for(
        lambda: (m := running.messages(direction="out")) and m[0]["delivery_status"] == "sent" and m
    )[0]
    assert datetime.fromisoformat(out["sent_at"]) == clock.now()
    clock.advance(timedelta(hours=2))  # 25 hours after the customer wrote, by the daemon's clock
    assert running.api.post(url, json={"text": "Troppo tardi"}).status_code == 409
