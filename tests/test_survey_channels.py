"""A satisfaction survey round trip on WhatsApp, Messenger and X, each against its emulator.

(Telegram's is in ``test_reports_end_to_end.py``.) The agent answers and resolves; the
scheduler asks in the chat with the channel's own buttons, or for a typed number on X; the
customer's answer is stored as the score and thanked; the conversation stays resolved.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from conftest import (
    EMMA_ID,
    PAGE_ID,
    PHONE_NUMBER_ID,
    RunningDaemon,
    make_settings,
    messenger_channel,
    wait_for,
    whatsapp_channel,
    x_channel,
)
from sqlmodel import Session, select

from sportello import scheduler
from sportello.connectors.emulators import meta_payloads as mp
from sportello.connectors.emulators.meta import GraphEmulator
from sportello.connectors.emulators.server import BackgroundServer
from sportello.connectors.emulators.x import XEmulator
from sportello.inbox.survey_tables import Survey

SURVEYS = {"enabled": True, "delay": "0s", "kind": "csat"}


@pytest.fixture(autouse=True)
def surveys_every_half_second(monkeypatch: pytest.MonkeyPatch) -> None:
    """The surveys job runs every 5 s in a daemon; these tests need not wait that long."""
    monkeypatch.setattr(scheduler, "SURVEY_INTERVAL_S", 0.5)


def _resolve_after_reply(running: RunningDaemon, channel: str) -> int:
    inbound = wait_for(lambda: running.messages(channel=channel, direction="in"), timeout=15)[0]
    conversation_id = inbound["conversation_id"]
    reply = running.api.post(
        f"/api/v1/conversations/{conversation_id}/messages", json={"text": "Fatto, grazie!"}
    )
    assert reply.status_code == 201
    wait_for(
        lambda: (
            running.messages(channel=channel, direction="out")[0]["delivery_status"]
            in ("sent", "delivered", "read")
        )
    )
    patch = running.api.patch(
        f"/api/v1/conversations/{conversation_id}", json={"status": "resolved"}
    )
    assert patch.status_code == 200
    return conversation_id


def _answered(running: RunningDaemon) -> Survey:
    def answered() -> Survey | None:
        with Session(running.daemon.engine) as session:
            survey = session.exec(select(Survey)).first()
            return survey if survey is not None and survey.state == "answered" else None

    return wait_for(answered, timeout=20)


def _still_resolved(running: RunningDaemon, conversation_id: int) -> None:
    conversation = running.api.get(f"/api/v1/conversations/{conversation_id}").json()
    assert conversation["status"] == "resolved"


def test_whatsapp_survey_with_an_interactive_list(
    database_url: str,
    whatsapp_emulator: tuple[GraphEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, server = whatsapp_emulator
    running = start_daemon(
        make_settings(database_url, channels=whatsapp_channel(server.url), surveys=SURVEYS)
    )
    emulator.webhook_url = f"{running.url}/webhooks/whatsapp"
    wa_id = "393471234567"

    def customer_sends(message: dict[str, Any]) -> None:
        value = mp.wa_value(
            PHONE_NUMBER_ID, contacts=[mp.wa_contact(wa_id, "Sara Conti")], messages=[message]
        )
        status = asyncio.run(emulator.deliver(mp.whatsapp_webhook(emulator.business_id, value)))
        assert status == 200

    customer_sends(mp.wa_text(wa_id, int(time.time()), "Il rimborso non è arrivato"))
    conversation_id = _resolve_after_reply(running, "whatsapp")

    def question() -> dict[str, Any] | None:
        for sent in emulator.sent:
            if sent["body"].get("type") == "interactive":
                return sent["body"]
        return None

    body = wait_for(question, timeout=20)
    rows = body["interactive"]["action"]["sections"][0]["rows"]  # 5 options: a list
    assert [row["title"] for row in rows] == ["1", "2", "3", "4", "5"]
    chosen = rows[3]
    customer_sends(
        mp.wa_message(
            wa_id,
            int(time.time()),
            "interactive",
            mp.wa_list_reply(chosen["id"], chosen["title"]),
        )
    )
    survey = _answered(running)
    assert survey.score == 4 and survey.conversation_id == conversation_id
    wait_for(
        lambda: any("Grazie" in s["body"].get("text", {}).get("body", "") for s in emulator.sent)
    )
    _still_resolved(running, conversation_id)


def test_messenger_survey_with_quick_replies(
    database_url: str,
    messenger_emulator: tuple[GraphEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, server = messenger_emulator
    running = start_daemon(
        make_settings(database_url, channels=messenger_channel(server.url), surveys=SURVEYS)
    )
    emulator.webhook_url = f"{running.url}/webhooks/messenger"
    psid = "6024301887699999"

    def customer_sends(event: dict[str, Any]) -> None:
        now_ms = int(time.time() * 1000)
        payload = mp.messenger_webhook(PAGE_ID, event, time_ms=now_ms)
        assert asyncio.run(emulator.deliver(payload)) == 200

    customer_sends(mp.text_message(psid, PAGE_ID, int(time.time() * 1000), "Taglia sbagliata"))
    conversation_id = _resolve_after_reply(running, "messenger")

    def question() -> list[dict[str, Any]] | None:
        for sent in emulator.sent:
            if "quick_replies" in sent["body"]["message"]:
                return sent["body"]["message"]["quick_replies"]
        return None

    quick_replies = wait_for(question, timeout=20)
    assert [q["title"] for q in quick_replies] == ["1", "2", "3", "4", "5"]
    customer_sends(
        mp.text_message(
            psid,
            PAGE_ID,
            int(time.time() * 1000),
            "5",
            quick_reply_payload=quick_replies[4]["payload"],
        )
    )
    survey = _answered(running)
    assert survey.score == 5 and survey.conversation_id == conversation_id
    _still_resolved(running, conversation_id)


def test_x_survey_answered_with_a_typed_number(
    database_url: str,
    x_emulator: tuple[XEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, server = x_emulator
    running = start_daemon(
        make_settings(database_url, channels=x_channel(server.url), surveys=SURVEYS)
    )
    emulator.dm(EMMA_ID, emulator.user_id, "My order arrived broken")
    conversation_id = _resolve_after_reply(running, "x")

    def question() -> list[dict[str, Any]]:
        return [d for d in emulator.sent_dms if "1" in d.get("text", "") and "5" in d["text"]]

    asked = wait_for(question, timeout=20)
    assert len(asked) == 1
    emulator.dm(EMMA_ID, emulator.user_id, "4")
    survey = _answered(running)
    assert survey.score == 4 and survey.conversation_id == conversation_id
    _still_resolved(running, conversation_id)
