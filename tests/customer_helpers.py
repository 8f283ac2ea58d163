"""Helpers for the file tests: Giulia writes to a running daemon as Telegram, WhatsApp and
Messenger deliver it (a secret-signed webhook, Meta-signed ones from the emulator), and an
agent answers with a file."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from conftest import (
    PAGE_ID,
    PHONE_NUMBER_ID,
    TELEGRAM_SECRET,
    RunningDaemon,
    make_settings,
    messenger_channel,
    wait_for,
    whatsapp_channel,
)

from sportello.connectors.base import InboundMessage, Person, Thread
from sportello.connectors.emulators import meta_payloads as mp
from sportello.connectors.emulators import telegram_payloads as tg
from sportello.connectors.emulators.meta import GraphEmulator
from sportello.connectors.emulators.server import BackgroundServer

GIULIA = tg.user(5551001, "Giulia", "Rossi", language_code="it")
WA_ID = "393331234567"
PSID = "6024301887612345"


def giulia_said(
    message_id: int, text: str, at: datetime | None = None, **content: Any
) -> InboundMessage:
    """Giulia's Telegram message ``message_id``, as the connector parses it (to ingest
    directly, without a webhook)."""
    return InboundMessage(
        channel="telegram",
        external_id=f"5551001:{message_id}",
        thread=Thread("5551001"),
        customer=Person("5551001", display_name="Giulia Rossi"),
        sent_at=at or datetime.now(UTC),
        text=text,
        **content,
    )


def meta_daemon(
    start_daemon: Callable[..., RunningDaemon],
    emulated: tuple[GraphEmulator, BackgroundServer],
    database_url: str,
) -> RunningDaemon:
    """A daemon with the emulator's platform (WhatsApp or Messenger) on, and the emulator's
    webhooks pointed at it."""
    emulator, server = emulated
    channel = whatsapp_channel if emulator.platform == "whatsapp" else messenger_channel
    running = start_daemon(make_settings(database_url, channels=channel(server.url)))
    emulator.webhook_url = f"{running.url}/webhooks/{emulator.platform}"
    return running


def telegram_says(running: RunningDaemon, message_id: int, **content: Any) -> dict[str, Any]:
    """Giulia's Telegram message (``text=``, ``photo=``...) through the webhook; the
    message as the API shows it once stored."""
    message = tg.message(message_id, GIULIA, int(time.time()), **content)
    body = json.dumps(tg.update(700_000 + message_id, message=message)).encode()
    headers = {
        "content-type": "application/json",
        "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET,
    }
    assert running.post_webhook("telegram", body, headers).status_code == 200
    found = wait_for(lambda: running.messages(external_id=f"5551001:{message_id}"))
    return found[0]  # type: ignore[no-any-return]


def whatsapp_says(
    emulator: GraphEmulator,
    running: RunningDaemon,
    kind: str,
    content: dict[str, Any],
    *,
    hours_ago: float = 0.0,
) -> dict[str, Any]:
    """Giulia's WhatsApp message of ``kind`` through the emulator's signed webhook; the
    message as the API shows it once stored."""
    wamid = mp.new_wamid()
    sent_at = int(time.time() - hours_ago * 3600)
    message = mp.wa_message(WA_ID, sent_at, kind, content, wamid)
    value = mp.wa_value(
        PHONE_NUMBER_ID, contacts=[mp.wa_contact(WA_ID, "Giulia")], messages=[message]
    )
    assert asyncio.run(emulator.deliver(mp.whatsapp_webhook(emulator.business_id, value))) == 200
    return wait_for(lambda: running.messages(external_id=wamid))[0]  # type: ignore[no-any-return]


def messenger_says(
    emulator: GraphEmulator,
    running: RunningDaemon,
    *,
    text: str | None = None,
    attachments: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Giulia's Messenger message (a text, or ``attachments``) through the emulator's
    signed webhook; the message as the API shows it once stored."""
    mid, now_ms = mp.new_mid(), int(time.time() * 1000)
    if attachments is not None:
        event = mp.attachment_message(PSID, PAGE_ID, now_ms, attachments, mid, text)
    else:
        event = mp.text_message(PSID, PAGE_ID, now_ms, text or "", mid)
    payload = mp.messenger_webhook(PAGE_ID, event, time_ms=now_ms)
    assert asyncio.run(emulator.deliver(payload)) == 200
    return wait_for(lambda: running.messages(external_id=mid))[0]  # type: ignore[no-any-return]


def send_file(
    running: RunningDaemon,
    conversation_id: int,
    name: str,
    content: bytes,
    mime_type: str,
    text: str = "",
) -> Any:
    """An agent's reply with a file, as the inbox's reply box sends it."""
    return running.api.post(
        f"/api/v1/conversations/{conversation_id}/files",
        files={"file": (name, content, mime_type)},
        data={"text": text},
    )


def delivered(running: RunningDaemon, message_id: int) -> dict[str, Any]:
    """The outbound message once the platform took it."""

    def sent() -> dict[str, Any] | None:
        found = [m for m in running.messages(direction="out") if m["id"] == message_id]
        return found[0] if found and found[0]["delivery_status"] == "sent" else None

    return wait_for(sent)  # type: ignore[no-any-return]
