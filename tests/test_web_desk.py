"""The web inbox's desk tools in a real headless Chromium, against one daemon per module.

An admin signs in once; the tests run in order on the same page, like a working shift:
a WhatsApp message arrives live and the Telegram complaint of last week shows in the
customer's timeline; the reply reaches the Graph emulator; a note stays inside; a canned
reply goes out with the name filled in; search finds a message; a duplicate customer is
merged and split again (the audit shows both); a sentiment is corrected; the conversation
controls work; a reply outside WhatsApp's 24-hour window is refused with the reason shown;
the agent writes down what a customer told them (a wrong number refused, kept in the form).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from conftest import (
    API_TOKEN,
    CHROMIUM,
    CHROMIUM_ARGS,
    META_APP_SECRET,
    PHONE_NUMBER_ID,
    TELEGRAM_SECRET,
    TELEGRAM_TOKEN,
    WHATSAPP_TOKEN,
    make_settings,
    server_client,
    telegram_channel,
    wait_for,
    whatsapp_channel,
)

from sportello.api.app import create_app
from sportello.connectors.emulators import meta_payloads as mp
from sportello.connectors.emulators import telegram_payloads as tg
from sportello.connectors.emulators.meta import GraphEmulator
from sportello.connectors.emulators.server import BackgroundServer
from sportello.connectors.emulators.telegram import TelegramEmulator
from sportello.daemon import Daemon
from sportello.inbox import accounts
from sportello.inbox.db import session_scope

if TYPE_CHECKING:
    from playwright.sync_api import Page

WABA_ID = "102290129340398"
WA_ID = "393331234567"
LATE_WA_ID = "447700900123"
PHONE = "+393331234567"
GIULIA = 5551001
DUPLICATE = 5551002
SHOTS = Path(tempfile.gettempdir()) / "sportello-web-desk"


class Shift:
    """Everything the module's tests share: the daemon, both platforms and the page."""

    def __init__(
        self,
        url: str,
        api: httpx.Client,
        telegram: TelegramEmulator,
        whatsapp: GraphEmulator,
        page: Page,
        errors: list[str],
    ) -> None:
        self.url, self.api, self.telegram, self.whatsapp = url, api, telegram, whatsapp
        self.page, self.errors = page, errors

    def telegram_says(
        self,
        user_id: int,
        first: str,
        last: str,
        username: str,
        days_ago: float = 0,
        **content: Any,
    ) -> None:
        sender = tg.user(user_id, first, last, username=username)
        date = int(time.time() - days_ago * 86400)
        message = tg.message(self.telegram.next_message_id(user_id), sender, date, **content)
        response = httpx.post(
            f"{self.url}/webhooks/telegram",
            content=json.dumps(tg.update(self.telegram.next_update_id(), message=message)),
            headers={
                "content-type": "application/json",
                "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET,
            },
        )
        assert response.status_code == 200

    def whatsapp_says(self, text: str, wa_id: str = WA_ID, hours_ago: float = 0) -> None:
        value = mp.wa_value(
            PHONE_NUMBER_ID,
            contacts=[mp.wa_contact(wa_id, "Giulia Rossi" if wa_id == WA_ID else "Tom Baker")],
            messages=[mp.wa_text(wa_id, int(time.time() - hours_ago * 3600), text)],
        )
        # Signed as Meta signs (GraphEmulator.deliver is async; Playwright owns the loop).
        body = json.dumps(mp.whatsapp_webhook(WABA_ID, value)).encode()
        response = httpx.post(
            f"{self.url}/webhooks/whatsapp",
            content=body,
            headers={
                "content-type": "application/json",
                "X-Hub-Signature-256": self.whatsapp.sign(body),
            },
        )
        assert response.status_code == 200

    def whatsapp_received(self) -> list[str]:
        return [
            s["body"]["text"]["body"] for s in self.whatsapp.sent if s["body"].get("type") == "text"
        ]

    def shot(self, name: str) -> None:
        SHOTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"))

    def leave_fields(self) -> None:
        self.page.evaluate("document.activeElement && document.activeElement.blur()")


pytestmark = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK),
    reason="no Chromium binary (install Debian's with `make browser`)",
)


@pytest.fixture(scope="module")
def shift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shift]:
    sync_api = pytest.importorskip("playwright.sync_api")
    telegram = TelegramEmulator(TELEGRAM_TOKEN, secret=TELEGRAM_SECRET)
    whatsapp = GraphEmulator("whatsapp", PHONE_NUMBER_ID, WHATSAPP_TOKEN, META_APP_SECRET)
    servers = [BackgroundServer(telegram.app).start(), BackgroundServer(whatsapp.app).start()]
    database = f"sqlite:///{tmp_path_factory.mktemp('desk') / 'desk.db'}"
    settings = make_settings(
        database, channels={**telegram_channel(servers[0].url), **whatsapp_channel(servers[1].url)}
    )
    daemon = Daemon(settings)
    server = BackgroundServer(create_app(daemon)).start(timeout=30)
    whatsapp.webhook_url = f"{server.url}/webhooks/whatsapp"
    with session_scope(daemon.engine) as session:
        accounts.create_user(session, "ada", "ada-password", "admin", datetime.now(UTC))
    api = server_client(server.url, headers={"Authorization": f"Bearer {API_TOKEN}"})
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = chromium.new_context(
            viewport={"width": 1366, "height": 768}, locale="en-GB", timezone_id="Europe/Rome"
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield Shift(server.url, api, telegram, whatsapp, page, errors)
        context.close()
        chromium.close()
    api.close()
    for running in (server, *servers):
        running.stop()


def _messages(shift: Shift, **filters: Any) -> list[dict[str, Any]]:
    return shift.api.get("/api/v1/messages", params=filters).json()["items"]


def test_whatsapp_message_arrives_live_with_last_weeks_telegram_complaint(shift: Shift) -> None:
    # Last week on Telegram: Giulia shared her phone and complained; that chat is closed.
    contact = {"phone_number": PHONE, "first_name": "Giulia", "user_id": GIULIA}
    shift.telegram_says(GIULIA, "Giulia", "Rossi", "giuliar", days_ago=7, contact=contact)
    shift.telegram_says(
        GIULIA,
        "Giulia",
        "Rossi",
        "giuliar",
        days_ago=7,
        text="Reclamo: il frullatore è arrivato rotto!",
    )
    complaint = wait_for(
        lambda: [m for m in _messages(shift, channel="telegram") if "rotto" in m["text"]]
    )[0]
    shift.api.patch(
        f"/api/v1/conversations/{complaint['conversation_id']}", json={"status": "resolved"}
    )

    page = shift.page
    page.goto(f"{shift.url}/")
    page.get_by_label("User name").fill("ada")
    page.get_by_label("Password").fill("ada-password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{shift.url}/")
    page.locator("#live-status[data-state='live']").wait_for()
    page.evaluate("window.__notReloaded = true")

    shift.whatsapp_says("Buongiorno, vi scrivo di nuovo per il frullatore")
    item = page.locator("#conversation-list button.conversation", has_text="Giulia Rossi")
    item.locator(".channel-whatsapp").wait_for(timeout=8_000)  # live, before the 15 s ping
    assert page.evaluate("window.__notReloaded") is True
    item.click()
    page.locator("#messages li.message", has_text="di nuovo").wait_for()
    page.locator("#thread-badges .window-open").wait_for()  # she just wrote: window open

    earlier = page.locator("#timeline .timeline-item", has_text="arrivato rotto")
    earlier.locator(".channel-telegram").wait_for()  # same customer, the other channel
    assert page.locator("#customer .identities li").count() == 2
    shift.shot("1-whatsapp-with-telegram-history")

    page.keyboard.press("r")
    reply = "Ciao Giulia, ci scusiamo: le spediamo subito un frullatore nuovo."
    page.keyboard.type(reply)
    page.keyboard.press("Control+Enter")
    wait_for(lambda: reply in shift.whatsapp_received(), timeout=20)
    page.locator("#messages li.message.out", has_text="frullatore nuovo").locator(
        ".ticks-sent"
    ).wait_for()
    earlier.click()  # the timeline opens the Telegram conversation
    page.locator("#messages li.message.highlight", has_text="arrivato rotto").wait_for()
    page.locator("#thread-title .channel-telegram").wait_for()
    page.locator("#timeline .timeline-item", has_text="frullatore nuovo").click()
    page.locator("#thread-title .channel-whatsapp").wait_for()


def test_note_is_added_and_never_sent(shift: Shift) -> None:
    page = shift.page
    sent_before = len(shift.whatsapp.sent)
    shift.leave_fields()
    page.keyboard.press("n")
    assert page.locator("#reply-form.note-mode").count() == 1
    page.keyboard.type("Cliente fidelizzato: offrire lo sconto del 10%.")
    page.keyboard.press("Control+Enter")
    note = page.locator("#messages li.note", has_text="sconto del 10%")
    note.wait_for()
    assert "agents only" in note.inner_text().lower() and "ada" in note.inner_text()
    conversation_id = _messages(shift, channel="whatsapp", direction="in")[0]["conversation_id"]
    notes = shift.api.get(f"/api/v1/conversations/{conversation_id}/notes").json()["items"]
    assert [n["text"] for n in notes] == ["Cliente fidelizzato: offrire lo sconto del 10%."]
    time.sleep(0.5)  # the sender runs every few hundred ms: it would have sent by now
    assert len(shift.whatsapp.sent) == sent_before
    assert not [m for m in _messages(shift, direction="out") if "sconto" in m["text"]]
    shift.shot("2-note")
    page.get_by_role("tab", name="Reply").click()


def test_canned_reply_goes_out_with_the_name_filled_in(shift: Shift) -> None:
    page = shift.page
    page.get_by_role("button", name="Manage…").click()
    dialog = page.locator("#canned-dialog")
    dialog.get_by_label("Title").fill("Saluto")
    dialog.get_by_label("Text").fill("Ciao {name}, grazie per la pazienza!")
    dialog.get_by_role("button", name="Create").click()
    dialog.locator("#canned-list li", has_text="Saluto").wait_for()
    dialog.get_by_label("Title").fill("Da cancellare")
    dialog.get_by_label("Text").fill("vecchio testo")
    dialog.get_by_role("button", name="Create").click()
    doomed = dialog.locator("#canned-list li", has_text="Da cancellare")
    doomed.get_by_role("button", name="Delete").click()
    page.locator("#confirm-ok").click()
    doomed.wait_for(state="detached")
    shift.shot("3-canned-manager")
    dialog.get_by_role("button", name="Close").click()

    page.locator("#canned-select").select_option(label="Saluto")
    assert "{name}" in page.locator("#canned-preview").inner_text()
    page.locator("#reply-send").click()
    wait_for(
        lambda: "Ciao Giulia Rossi, grazie per la pazienza!" in shift.whatsapp_received(),
        timeout=20,
    )
    page.locator("#messages li.message.out", has_text="Ciao Giulia Rossi, grazie").wait_for()
    assert page.locator("#canned-preview").is_hidden()


def test_search_finds_a_message_and_opens_it(shift: Shift) -> None:
    page = shift.page
    shift.leave_fields()
    page.keyboard.press("/")
    page.keyboard.type("frullatore rotto")
    result = page.locator("#conversation-list .result-message", has_text="arrivato rotto")
    result.wait_for()
    assert page.locator("#conversation-list .group-title").count() == 3
    shift.shot("4-search")
    result.click()
    page.locator("#messages li.message.highlight", has_text="arrivato rotto").wait_for()
    page.locator("#thread-title .channel-telegram").wait_for()
    page.keyboard.press("/")
    page.keyboard.press("Escape")  # clears the search: the list is back
    page.locator("#list-title", has_text="Conversations").wait_for()


def test_merge_and_unmerge_through_the_panel_with_the_audit(shift: Shift) -> None:
    page = shift.page
    shift.telegram_says(
        DUPLICATE, "G.", "R.", "giulia_bis", text="Sono sempre io, dal telefono di lavoro"
    )
    duplicate = wait_for(
        lambda: [m for m in _messages(shift) if "telefono di lavoro" in m["text"]]
    )[0]
    giulia = _messages(shift, channel="whatsapp", direction="in")[0]["customer_id"]
    assert duplicate["customer_id"] != giulia

    page.locator("#customer .section-merge summary").click()
    page.locator("#merge-search").fill("giulia_bis")
    candidate = page.locator("#merge-results li", has_text="G. R.")
    candidate.get_by_role("button", name="Merge").click()
    assert "G. R." in page.locator("#confirm-text").inner_text()
    page.locator("#confirm-ok").click()
    page.locator("#customer .identities li").nth(2).wait_for()  # three channels now
    assert page.locator("#customer .identities li", has_text="@giulia_bis").count() == 1
    page.locator("#timeline .timeline-item", has_text="telefono di lavoro").wait_for()
    page.locator("#customer .section-audit summary").click()
    page.locator("#customer .audit .audit-merge").wait_for()
    merged = shift.api.get(f"/api/v1/customers/{duplicate['customer_id']}").json()
    assert merged["merged_into_id"] == giulia
    shift.shot("5-merged")

    split = page.locator("#customer .identities li", has_text="@giulia_bis")
    split.get_by_role("button", name="Split off").click()
    page.locator("#confirm-ok").click()
    split.wait_for(state="detached")
    page.locator("#customer .audit .audit-unmerge").wait_for()
    assert page.locator("#customer .identities li").count() == 2
    audit = shift.api.get(f"/api/v1/customers/{giulia}/audit").json()["items"]
    assert [a["action"] for a in audit] == ["unmerge", "merge"]
    assert [a["actor"] for a in audit] == ["ada", "ada"]


def test_sentiment_is_corrected_by_the_agent(shift: Shift) -> None:
    page = shift.page
    message = page.locator("#messages li.message.in", has_text="arrivato rotto")
    if not message.count():  # open the Telegram conversation from the timeline
        page.locator("#timeline .timeline-item", has_text="arrivato rotto").click()
    badge = message.locator("button.sentiment")
    badge.click()
    message.locator("select.sentiment-select").select_option("neutral")
    message.locator("button.sentiment.sentiment-neutral.corrected").wait_for()
    stored = next(m for m in _messages(shift, channel="telegram") if "arrivato rotto" in m["text"])
    assert stored["sentiment"]["label"] == "neutral" and stored["sentiment"]["corrected"] is True


def test_conversation_controls(shift: Shift) -> None:
    page = shift.page
    page.locator("#timeline .timeline-item", has_text="di nuovo").click()
    page.locator("#thread-title .channel-whatsapp").wait_for()
    conversation_id = _messages(shift, channel="whatsapp", direction="in")[0]["conversation_id"]

    def conversation() -> dict[str, Any]:
        return shift.api.get(f"/api/v1/conversations/{conversation_id}").json()

    page.locator("#conv-assign", has_text="Assign to me").click()
    wait_for(lambda: conversation()["assignee"] == "ada")
    page.locator("#conv-assignee", has_text="@ada").wait_for()
    page.locator("#conv-priority").select_option("2")
    wait_for(lambda: conversation()["priority"] == 2)
    page.locator("#conv-tags").fill("reclamo, frullatore")
    page.locator("#conv-tags").press("Enter")
    wait_for(lambda: conversation()["tags"] == ["frullatore", "reclamo"])
    page.locator("#conversation-list button.conversation", has_text="Giulia Rossi").locator(
        ".tag", has_text="reclamo"
    ).wait_for()
    tomorrow = (datetime.now() + timedelta(days=1)).replace(second=0, microsecond=0)
    page.locator("#snooze-until").fill(tomorrow.strftime("%Y-%m-%dT%H:%M"))
    page.locator("#snooze-button").click()
    wait_for(lambda: conversation()["status"] == "snoozed")
    page.locator("#thread-badges .snoozed-until").wait_for()
    shift.shot("6-controls")
    page.locator("#conv-status").select_option("open")
    wait_for(lambda: conversation()["status"] == "open")


def test_reply_outside_the_whatsapp_window_shows_why(shift: Shift) -> None:
    page = shift.page
    shift.whatsapp_says("Salve, avevo chiesto un preventivo", wa_id=LATE_WA_ID, hours_ago=30)
    item = page.locator("#conversation-list button.conversation", has_text="Tom Baker")
    item.wait_for()
    item.click()
    page.locator("#thread-badges .window-closed").wait_for()
    sent_before = len(shift.whatsapp.sent)
    shift.leave_fields()
    page.keyboard.press("r")
    page.keyboard.type("Ecco il preventivo")
    page.keyboard.press("Control+Enter")
    error = page.locator("#reply-error")
    error.wait_for()
    assert "refuses" in error.inner_text() and "24 hours" in error.inner_text()
    assert page.locator("#reply-text").input_value() == "Ecco il preventivo"  # nothing lost
    assert len(shift.whatsapp.sent) == sent_before
    shift.shot("7-window-closed")
    assert shift.errors == []


def test_an_agent_writes_down_what_the_customer_told_them(shift: Shift) -> None:
    page = shift.page  # Tom Baker's conversation is open
    page.locator("#customer .section-edit summary").click()
    form = page.locator("#customer-edit")
    form.get_by_label("Name").fill("Thomas Baker")
    form.get_by_label("Email").fill("Tom@Example.co.uk")
    form.get_by_label("Phone").fill("+39 12")
    form.get_by_role("button", name="Save").click()
    error = page.locator("#customer-error")
    error.wait_for()
    assert "not a valid phone number" in error.inner_text()
    assert form.get_by_label("Name").input_value() == "Thomas Baker"  # nothing lost
    form.get_by_label("Phone").fill("+39 333 123 4567")  # Giulia's: a suggestion, no merge
    form.get_by_role("button", name="Save").click()
    page.locator("#customer .customer-name", has_text="Thomas Baker").wait_for()
    assert error.is_hidden()
    suggestion = page.locator("#customer .suggestion", has_text="Giulia Rossi")
    assert "same phone number, written by ada" in suggestion.inner_text()
    page.locator("#customer .details", has_text="tom@example.co.uk").wait_for()
    history = page.locator("#customer .section-audit")
    if history.get_attribute("open") is None:  # the agent may have left it open
        history.locator("summary").click()
    edited = page.locator("#customer .audit .audit-edit")
    assert "(name, phone, email)" in edited.inner_text()
    shift.shot("8-details")
    suggestion.get_by_role("button", name="Not the same").click()
    suggestion.wait_for(state="detached")
    # Another agent corrects him too: the pane follows live, its form as well.
    tom = shift.api.get("/api/v1/customers", params={"q": "thomas"}).json()["items"][0]
    shift.api.patch(f"/api/v1/customers/{tom['id']}", json={"display_name": "Tom Baker Jr"})
    page.locator("#customer .customer-name", has_text="Tom Baker Jr").wait_for()
    assert form.get_by_label("Name").input_value() == "Tom Baker Jr"
    assert shift.errors == []
