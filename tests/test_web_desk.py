"""The desk tools of the web inbox in a real headless Chromium: full-text search, agent
notes, canned replies, suggested links, merge and split, each through the REST API."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import httpx
from conftest import TELEGRAM_SECRET, make_settings, telegram_channel, wait_for

from sportello.connectors.base import InboundMessage, Person, Thread
from sportello.connectors.emulators import telegram_payloads as tg
from sportello.inbox import accounts
from sportello.inbox.db import session_scope
from sportello.inbox.ingest import ingest


def _customer_writes(running, text: str) -> None:
    sender = tg.user(5551001, "Giulia", "Rossi", username="giuliar")
    update = tg.update(
        int(time.time() * 1000), message=tg.message(1, sender, int(time.time()), text=text)
    )
    response = httpx.post(
        f"{running.url}/webhooks/telegram",
        content=json.dumps(update),
        headers={
            "content-type": "application/json",
            "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET,
        },
    )
    assert response.status_code == 200


def test_search_notes_canned_replies_and_linking(
    sqlite_url, telegram_emulator, start_daemon, browser
):
    emulator, emulator_server = telegram_emulator
    running = start_daemon(
        make_settings(sqlite_url, channels=telegram_channel(emulator_server.url))
    )
    now = datetime.now(UTC)
    with session_scope(running.daemon.engine) as session:
        accounts.create_user(session, "bob", "bob-password", "agent", now)
        # The same name on WhatsApp, another number: only a suggestion, never a merge.
        ingest(
            session,
            [
                InboundMessage(
                    channel="whatsapp",
                    external_id="wamid.HBgMMzkzNDAwMDAwMDAxFQIAEhgg",
                    thread=Thread("393400000001"),
                    customer=Person("393400000001", "Giulia Rossi", phone="+393400000001"),
                    sent_at=now,
                    text="Buongiorno, ho un reso da fare",
                )
            ],
            now=now,
        )
    running.api.post(
        "/api/v1/canned-replies",
        json={"title": "Saluto", "text": "Ciao {name}, ci pensiamo noi!", "language": "it"},
    )
    _customer_writes(running, "Il pacco 4411 non è arrivato")
    wait_for(lambda: running.messages(channel="telegram"))

    page = browser.page
    page.goto(f"{running.url}/login")
    page.get_by_label("User name").fill("bob")
    page.get_by_label("Password").fill("bob-password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{running.url}/")

    # Full-text search finds the message; opening it shows the conversation.
    page.keyboard.press("/")
    page.keyboard.type("4411")
    page.locator("#conversation-list button.conversation", has_text="4411").click()
    page.locator("#messages li.message", has_text="4411").wait_for()

    # A note is kept for the team and never sent.
    page.locator(".notes-box summary").click()
    page.locator("#note-text").fill("Cliente VIP, rimborso rapido")
    page.get_by_role("button", name="Add note").click()
    page.locator("#notes .note", has_text="Cliente VIP").wait_for()

    # A canned reply goes out with the customer's name filled in.
    page.locator("#reply-canned").select_option(label="Saluto")
    page.locator("#reply-send").click()
    wait_for(lambda: [s["text"] for s in emulator.sent] == ["Ciao Giulia Rossi, ci pensiamo noi!"])

    # The suggested link is confirmed, then split again; both are audited.
    page.locator(".suggestion").wait_for()
    page.get_by_role("button", name="Link").click()
    identities = page.locator("#customer .identities li")
    wait_for(lambda: identities.count() == 2)
    identities.filter(has_text="393400000001").get_by_role("button", name="Split").click()
    wait_for(lambda: identities.count() == 1)
    actions = [entry["action"] for entry in running.api.get("/api/v1/audit").json()["items"]]
    assert "merge" in actions and "unmerge" in actions
    assert all("VIP" not in sent["text"] for sent in emulator.sent)
    assert browser.errors == []
