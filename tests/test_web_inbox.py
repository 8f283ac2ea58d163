"""The web inbox in a real headless Chromium (Debian's, never a downloaded one).

An agent logs in; a customer writes on a platform (a signed webhook to the running
daemon); the message appears without a reload; the agent opens it, sees the same
customer's earlier conversation on another channel, replies from the keyboard, and
the reply reaches the platform's emulator.

A platform joins this test by adding a :class:`Platform` to ``PLATFORMS``: how its
customer writes to the daemon and what the emulator received back.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

import httpx
import pytest
from conftest import (
    META_APP_SECRET,
    PHONE_NUMBER_ID,
    TELEGRAM_SECRET,
    Browser,
    RunningDaemon,
    make_settings,
    telegram_channel,
    wait_for,
    whatsapp_channel,
)
from customer_helpers import giulia_said

from sportello import scheduler
from sportello.connectors.base import Attachment, Channel, InboundMessage, Person, Thread
from sportello.connectors.emulators import meta_payloads as mp
from sportello.connectors.emulators import telegram_payloads as tg
from sportello.connectors.emulators.images import png
from sportello.connectors.emulators.meta import GraphEmulator
from sportello.connectors.emulators.server import BackgroundServer
from sportello.connectors.emulators.telegram import TelegramEmulator
from sportello.connectors.meta import signature
from sportello.inbox import accounts
from sportello.inbox.conversations import set_status
from sportello.inbox.db import session_scope
from sportello.inbox.ingest import ingest
from sportello.inbox.models import Conversation

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

SCREENSHOT = Path(tempfile.gettempdir()) / "sportello-web-inbox.png"
# Headless Chromium keeps every tab visible: the page's visibility, as the browser reports
# it when another tab comes in front (STATE: hidden or visible), and the event it sends.
BACKGROUND = """
for (const [name, value] of [["visibilityState", "STATE"], ["hidden", "STATE" === "hidden"]]) {
  Object.defineProperty(document, name, { value, configurable: true });
}
document.dispatchEvent(new Event("visibilitychange"));
"""
PHONE = "+393331234567"


class Platform(Protocol):
    """One platform as seen from the customer's side, for the browser test."""

    channel: str

    def settings(self) -> dict[str, Any]:
        """The ``channels`` settings that point the daemon at the emulator."""

    def share_phone(self, daemon_url: str, phone: str) -> None:
        """The customer proves their phone number (so other channels can join them)."""

    def say(self, daemon_url: str, text: str) -> None:
        """The customer writes; delivered as a signed webhook."""

    def received(self) -> list[str]:
        """Texts the platform got from the business."""


class TelegramCustomer:
    channel = "telegram"
    user_id = 5551001

    def __init__(self, emulator: TelegramEmulator, server: BackgroundServer) -> None:
        self.emulator, self.server = emulator, server
        self.sender = tg.user(self.user_id, "Giulia", "Rossi", username="giuliar")

    def settings(self) -> dict[str, Any]:
        return telegram_channel(self.server.url)

    def _post(self, daemon_url: str, **content: Any) -> None:
        message_id = self.emulator.next_message_id(self.user_id)
        message = tg.message(message_id, self.sender, int(time.time()), **content)
        response = httpx.post(
            f"{daemon_url}/webhooks/telegram",
            content=json.dumps(tg.update(self.emulator.next_update_id(), message=message)),
            headers={
                "content-type": "application/json",
                "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET,
            },
        )
        assert response.status_code == 200

    def share_phone(self, daemon_url: str, phone: str) -> None:
        contact = {"phone_number": phone, "first_name": "Giulia", "user_id": self.user_id}
        self._post(daemon_url, contact=contact)

    def say(self, daemon_url: str, text: str) -> None:
        self._post(daemon_url, text=text)

    def received(self) -> list[str]:
        return [sent["text"] for sent in self.emulator.sent]


class WhatsAppCustomer:
    channel = "whatsapp"
    wa_id = PHONE.lstrip("+")

    def __init__(self, emulator: GraphEmulator, server: BackgroundServer) -> None:
        self.emulator, self.server = emulator, server

    def settings(self) -> dict[str, Any]:
        return whatsapp_channel(self.server.url)

    def share_phone(self, daemon_url: str, phone: str) -> None:
        """On WhatsApp the phone number is the account: writing once proves it."""
        self.say(daemon_url, "Ciao!")

    def say(self, daemon_url: str, text: str) -> None:
        """A webhook signed as Meta signs it (posted directly: the browser's loop is busy)."""
        value = mp.wa_value(
            PHONE_NUMBER_ID,
            contacts=[mp.wa_contact(self.wa_id, "Giulia Rossi")],
            messages=[mp.wa_text(self.wa_id, int(time.time()), text)],
        )
        body = json.dumps(mp.whatsapp_webhook(self.emulator.business_id, value)).encode()
        headers = {
            "content-type": "application/json",
            "X-Hub-Signature-256": signature(META_APP_SECRET, body),
        }
        response = httpx.post(f"{daemon_url}/webhooks/whatsapp", content=body, headers=headers)
        assert response.status_code == 200

    def received(self) -> list[str]:
        return [s["body"].get("text", {}).get("body", "") for s in self.emulator.sent]


@pytest.fixture(params=["telegram", "whatsapp"])
def platform(request: pytest.FixtureRequest) -> Platform:
    if request.param == "telegram":
        return TelegramCustomer(*request.getfixturevalue("telegram_emulator"))
    return WhatsAppCustomer(*request.getfixturevalue("whatsapp_emulator"))


def _earlier_conversation_elsewhere(
    running: RunningDaemon, customer_phone: str, channel: Channel
) -> int:
    """A resolved conversation three days ago on ``channel``, ingested as a connector would."""
    days_ago = datetime.now(UTC) - timedelta(days=3)
    person = Person("393331234567", display_name="Giulia Rossi", phone=customer_phone)
    event = InboundMessage(
        channel=channel,
        external_id="wamid.HBgMMzkzMzMxMjM0NTY3FQIAEhggQTY0",
        thread=Thread(person.external_id),
        customer=person,
        sent_at=days_ago,
        text="Buongiorno, vorrei cambiare l'indirizzo di consegna.",
    )
    with session_scope(running.daemon.engine) as session:
        (_message, conversation), *_ = ingest(session, [event], now=days_ago).new_messages
        set_status(session, conversation, "resolved", days_ago, "ada")
        return conversation.customer_id


def test_agent_answers_a_live_message_with_the_customers_history(
    sqlite_url: str,
    platform: Platform,
    start_daemon: Callable[..., RunningDaemon],
    browser: Browser,
) -> None:
    running = start_daemon(make_settings(sqlite_url, channels=platform.settings()))
    with session_scope(running.daemon.engine) as session:
        accounts.create_user(session, "bob", "bob-password", "agent", datetime.now(UTC))

    # The customer proved her phone on this platform; an older chat on another channel
    # (same phone) joins her; both conversations are closed before the test starts.
    platform.share_phone(running.url, PHONE)
    first = wait_for(lambda: running.messages(channel=platform.channel))[0]
    other: Channel = "whatsapp" if platform.channel != "whatsapp" else "telegram"
    assert _earlier_conversation_elsewhere(running, PHONE, other) == first["customer_id"]
    running.api.patch(
        f"/api/v1/conversations/{first['conversation_id']}", json={"status": "resolved"}
    )

    page = browser.page
    page.goto(f"{running.url}/")
    assert page.url.endswith("/login")
    page.get_by_label("User name").fill("bob")
    page.get_by_label("Password").fill("bob-password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{running.url}/")
    page.locator("#live-status[data-state='live']").wait_for()
    page.locator("#conversation-list .empty").wait_for()  # nothing open yet
    page.evaluate("window.__notReloaded = true")

    platform.say(running.url, "Il pacco 4411 non è ancora arrivato, mi aiutate?")
    item = page.locator("#conversation-list button.conversation", has_text="Giulia Rossi")
    item.wait_for(timeout=8_000)  # live: well before the 15 s ping
    assert "4411" in item.inner_text() and "waiting" in item.inner_text()
    assert page.evaluate("window.__notReloaded") is True

    page.keyboard.press("j")
    messages = page.locator("#messages li.message")
    messages.last.wait_for()
    assert "4411" in messages.last.inner_text()
    assert "customer" in messages.last.inner_text()
    history = page.locator("#customer .history-item")
    history.nth(1).wait_for(state="attached")  # the customer pane fills in after the thread
    assert history.count() == 2
    earlier = page.locator("#customer .history-item", has_text="indirizzo di consegna")
    assert earlier.locator(f".channel-{other}").count() == 1
    identities = page.locator("#customer .identities li")
    assert identities.count() == 2
    details = page.locator("#customer .details").inner_text()
    assert PHONE in details and "[object" not in details

    page.keyboard.press("r")
    assert page.evaluate("document.activeElement.id") == "reply-text"
    hint = page.locator("#reply-parts")
    page.fill("#reply-text", "Gentile cliente, " * 300)  # 5,100 characters: two messages
    hint.wait_for()
    assert hint.inner_text() == "This reply is longer than one message: it will go out as 2."
    page.fill("#reply-text", "")
    hint.wait_for(state="hidden")
    reply = "Ciao Giulia, verifico subito la spedizione 4411."
    page.keyboard.type(reply)
    page.keyboard.press("Control+Enter")
    wait_for(lambda: reply in platform.received(), timeout=20)
    outbound = page.locator("#messages li.message.out", has_text=reply)
    outbound.locator(".ticks-sent").wait_for()  # the tick follows the sender, live
    assert outbound.locator(".author").inner_text() == "bob"  # who sent it, not "agent"
    assert page.evaluate("document.getElementById('reply-text').value") == ""

    page.keyboard.press("Escape")  # leave the reply box; the shortcuts work again
    page.keyboard.press("?")
    assert page.locator("#help").is_visible()
    page.keyboard.press("Escape")
    assert not page.locator("#help").is_visible()

    page.keyboard.press("/")
    page.keyboard.type("giulia")
    page.locator("#conversation-list .result-customer", has_text="Giulia Rossi").wait_for()
    found = page.locator("#conversation-list .result-conversation", has_text="Giulia Rossi")
    found.locator(f".channel-{other}").wait_for()  # one customer, both channels
    page.keyboard.press("Escape")
    page.locator("#list-title", has_text="Conversations").wait_for()
    page.screenshot(path=str(SCREENSHOT))

    page.keyboard.press("e")
    conversation_id = first["conversation_id"]

    def resolved() -> bool:
        return running.api.get(f"/api/v1/conversations/{conversation_id}").json()["status"] == (
            "resolved"
        )

    wait_for(resolved)
    with session_scope(running.daemon.engine) as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None and conversation.first_response_at is not None
    assert browser.errors == []


def test_a_picture_opens_from_its_message_and_an_unsafe_url_stays_text(
    sqlite_url: str, start_daemon: Callable[..., RunningDaemon], browser: Browser
) -> None:
    running = start_daemon(make_settings(sqlite_url))
    now = datetime.now(UTC)
    picture = "https://pbs.twimg.com/media/1860000000000004096.jpg"
    event = InboundMessage(
        channel="x",
        external_id="1860000000000008192",
        thread=Thread("1860000000000008192", public=True),
        customer=Person("2244994945", display_name="Emma Conti", handle="emmac"),
        sent_at=now,
        text="@brand the box arrived like this",
        kind="media",
        attachments=(
            Attachment("image", url=picture, platform_id="3_1", extra={"alt_text": "a box"}),
            Attachment("link", url="javascript:alert(document.cookie)"),
        ),
    )
    shown = _attachments_seen_by_bob(running, browser, event)
    assert shown.inner_text() == "[image] [link]"
    links = shown.locator("a")
    assert links.count() == 1
    assert links.first.get_attribute("href") == picture
    assert links.first.get_attribute("target") == "_blank"
    assert links.first.get_attribute("title") == "a box"
    assert browser.errors == []


def test_a_customers_photo_voice_note_and_document_are_shown_from_the_platform(
    sqlite_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
    browser: Browser,
) -> None:
    emulator, server = telegram_emulator
    running = start_daemon(make_settings(sqlite_url, channels=telegram_channel(server.url)))
    now = datetime.now(UTC)
    files = {
        "image": emulator.add_file(png(40, 30), ".png"),
        "sticker": emulator.add_file(b"\x1f\x8b animated sticker", ".tgs"),
        "audio": emulator.add_file(b"OggS voice", ".ogg"),
        "file": emulator.add_file(b"%PDF-1.7", ".pdf"),
    }
    event = giulia_said(
        90,
        "Ecco il pacco, il vocale e la ricevuta",
        at=now,
        kind="media",
        attachments=(
            Attachment("image", platform_id=files["image"]),
            Attachment("sticker", platform_id=files["sticker"]),
            Attachment("audio", platform_id=files["audio"], mime_type="audio/ogg"),
            Attachment("file", platform_id=files["file"], name="ricevuta.pdf"),
            Attachment("location", extra={"latitude": 45.46, "longitude": 9.19}),
        ),
    )
    shown = _attachments_seen_by_bob(running, browser, event)
    page = browser.page
    picture = shown.locator(".attachment-image img")
    picture.wait_for()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth === 40", arg=picture.element_handle()
    )
    assert picture.get_attribute("alt") == "[image]"
    # The animated sticker is no picture the browser decodes: its name is shown instead.
    page.wait_for_function(
        "el => !el.querySelector('img') && el.textContent === '[sticker]'",
        arg=shown.locator(".attachment-sticker").element_handle(),
    )
    voice = shown.locator("audio.attachment-audio")
    assert voice.get_attribute("preload") == "none"
    message_id = page.locator("#messages li.message").last.get_attribute("data-id")
    assert voice.get_attribute("src") == f"/api/v1/messages/{message_id}/attachments/2"
    document = shown.locator("a.attachment-file")
    assert document.inner_text() == "[file: ricevuta.pdf]"
    assert "[location]" in shown.inner_text()
    answer = page.request.get(running.url + (document.get_attribute("href") or ""))
    assert answer.status == 200 and answer.body() == b"%PDF-1.7"
    assert browser.errors == []


def _attachments_seen_by_bob(
    running: RunningDaemon, browser: Browser, event: InboundMessage
) -> Locator:
    """Store ``event``, sign in as the agent bob, open its conversation: its attachments."""
    page = _opened_by_bob(running, browser, event)
    shown = page.locator("#messages li.message .attachments")
    shown.wait_for()
    return shown


def _opened_by_bob(running: RunningDaemon, browser: Browser, event: InboundMessage) -> Page:
    """Store ``event``, sign in as the agent bob and open its conversation."""
    with session_scope(running.daemon.engine) as session:
        accounts.create_user(session, "bob", "bob-password", "agent", event.sent_at)
        ingest(session, [event], now=event.sent_at)
    page = browser.page
    page.goto(f"{running.url}/login")
    page.get_by_label("User name").fill("bob")
    page.get_by_label("Password").fill("bob-password")
    page.get_by_role("button", name="Sign in").click()
    name = event.customer.display_name or ""
    page.locator("#conversation-list button.conversation", has_text=name).click()
    page.locator("#messages li.message").first.wait_for()
    return page


def test_an_agent_sends_a_picture_with_a_caption_from_the_reply_box(
    sqlite_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
    browser: Browser,
) -> None:
    emulator, server = telegram_emulator
    running = start_daemon(make_settings(sqlite_url, channels=telegram_channel(server.url)))
    event = giulia_said(91, "Mi mandate l'etichetta per il reso?")
    page = _opened_by_bob(running, browser, event)
    label = png(40, 30, (20, 160, 90))
    chooser = page.locator("#reply-file")
    chooser.set_input_files({"name": "etichetta.png", "mimeType": "image/png", "buffer": label})
    assert page.locator("#reply-file-name").inner_text() == "etichetta.png"
    page.get_by_role("button", name="Remove the file").click()
    assert page.locator("#reply-file-chosen").is_hidden()
    chooser.set_input_files({"name": "etichetta.png", "mimeType": "image/png", "buffer": label})
    page.locator("#reply-text").fill("Eccola!")
    page.locator("#reply-send").click()

    photo = wait_for(lambda: [s for s in emulator.sent if "photo" in s])[0]
    assert photo["caption"] == "Eccola!" and photo["photo"]["size"] == len(label)
    sent = page.locator("#messages li.message.out .attachment-image img")
    sent.wait_for()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth === 40", arg=sent.element_handle()
    )
    assert page.locator("#reply-text").input_value() == ""
    assert page.locator("#reply-file-chosen").is_hidden()
    assert browser.errors == []


def test_the_file_picker_follows_what_the_channel_can_send(
    sqlite_url: str, start_daemon: Callable[..., RunningDaemon], browser: Browser
) -> None:
    """WhatsApp sends no file two days after the customer's last message; X carries only
    pictures and videos, so its picker offers only those."""
    running = start_daemon(make_settings(sqlite_url))
    now = datetime.now(UTC)
    on_x = InboundMessage(
        channel="x",
        external_id="1860000000000004096",
        thread=Thread("100-2001"),
        customer=Person("2001", display_name="Emma Clarke", handle="emmac"),
        sent_at=now,
        text="Can you send me the return label?",
    )
    with session_scope(running.daemon.engine) as session:
        ingest(session, [on_x], now=now)
    late = InboundMessage(
        channel="whatsapp",
        external_id="wamid.late",
        thread=Thread("393331234567"),
        customer=Person("393331234567", display_name="Giulia Rossi"),
        sent_at=now - timedelta(days=2),
        text="Mi mandate l'etichetta?",
    )
    page = _opened_by_bob(running, browser, late)
    chooser = page.locator("#reply-file")
    assert chooser.is_disabled()
    assert page.locator("#attach-tools").get_attribute("title") == (
        "WhatsApp sends files only within 24 hours of the customer's last message"
    )

    page.locator("#conversation-list button.conversation", has_text="Emma Clarke").click()
    page.locator("#messages li.message", has_text="return label").wait_for()
    assert chooser.is_enabled()
    assert chooser.get_attribute("accept") == (
        "image/jpeg,image/png,image/webp,image/gif,video/mp4,video/quicktime"
    )
    assert not page.locator("#attach-tools").get_attribute("title")
    assert browser.errors == []


def test_a_conversation_assigned_automatically_is_announced_to_its_agent(
    sqlite_url: str,
    start_daemon: Callable[..., RunningDaemon],
    browser: Browser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(scheduler, "ASSIGN_INTERVAL_S", 0.2)
    running = start_daemon(make_settings(sqlite_url, assignment={"mode": "balanced"}))
    event = giulia_said(95, "C'è qualcuno?")
    page = _opened_by_bob(running, browser, event)
    page.locator("#available[data-loaded='true']").wait_for(state="attached")
    title = page.title()
    page.get_by_label("Taking conversations").check()  # Giulia's is nobody's yet: bob's now

    note = page.locator("#assigned-note")
    note.wait_for()
    assert note.inner_text() == "New for you: 1"
    assert page.title() == f"(1) {title}"
    page.locator("#conversation-list .assignee-chip", has_text="@bob").wait_for()
    note.click()
    assert note.is_hidden() and page.title() == title
    assert page.locator("#filter-assignee").input_value() == "bob"
    assert browser.errors == []


def test_an_agent_resolves_a_wave_of_spam_in_one_go(
    sqlite_url: str, start_daemon: Callable[..., RunningDaemon], browser: Browser
) -> None:
    running = start_daemon(make_settings(sqlite_url))
    now = datetime.now(UTC)
    spam = [
        InboundMessage(
            channel="telegram",
            external_id=f"{6100 + n}:1",
            thread=Thread(str(6100 + n)),
            customer=Person(str(6100 + n), display_name=f"Bot {n}"),
            sent_at=now - timedelta(minutes=n),
            text="Guadagna 1000 euro al giorno!",
        )
        for n in range(3)
    ]
    with session_scope(running.daemon.engine) as session:
        ingest(session, spam[1:], now=now)
    page = _opened_by_bob(running, browser, spam[0])  # Bot 0's conversation is open
    page.keyboard.press("x")  # picks the open one
    page.get_by_label("Pick Bot 2").check()
    bar = page.get_by_role("toolbar", name="Bulk actions")
    assert bar.locator("#bulk-count").inner_text() == "2 picked"
    page.screenshot(path=str(SCREENSHOT.with_name("sportello-bulk.png")))
    bar.get_by_role("button", name="Resolve").click()

    page.locator("#conversation-list button.conversation", has_text="Bot 0").wait_for(
        state="detached"
    )
    assert bar.is_hidden()
    names = page.locator("#conversation-list button.conversation .name").all_inner_texts()
    assert [n.rstrip(" •") for n in names] == ["Bot 1"]
    statuses = {c["customer_name"]: c["status"] for c in _conversations(running)}
    assert statuses == {"Bot 0": "resolved", "Bot 1": "open", "Bot 2": "resolved"}
    assert browser.errors == []


def _conversations(running: RunningDaemon) -> list[dict[str, Any]]:
    return running.api.get("/api/v1/conversations").json()["items"]  # type: ignore[no-any-return]


def test_two_agents_in_one_conversation_see_each_other_typing(
    sqlite_url: str, start_daemon: Callable[..., RunningDaemon], browser: Browser
) -> None:
    running = start_daemon(make_settings(sqlite_url))
    page = _opened_by_bob(running, browser, giulia_said(96, "Il pacco non è arrivato"))
    conversation = _conversations(running)[0]["id"]
    with session_scope(running.daemon.engine) as session:
        ada = accounts.create_user(session, "ada", "ada-password", "agent", datetime.now(UTC))
        secret, _ = accounts.create_api_token(session, ada, "ada's inbox", datetime.now(UTC))
    ada_inbox = {"Authorization": f"Bearer {secret}"}

    def ada_views(typing: bool) -> None:
        body = {"conversation_id": conversation, "typing": typing}
        assert (
            running.api.put("/api/v1/me/viewing", json=body, headers=ada_inbox).status_code == 204
        )

    def seen_by_ada() -> list[dict[str, Any]]:
        path = f"/api/v1/conversations/{conversation}/viewers"
        return running.api.get(path, headers=ada_inbox).json()  # type: ignore[no-any-return]

    viewer = page.locator("#thread-viewers [data-viewer='ada']")
    ada_views(typing=False)  # ada opens it too: bob sees her at once (a live event)
    viewer.wait_for()
    assert viewer.inner_text() == "ada is here too"
    ada_views(typing=True)
    page.locator("#thread-viewers .typing", has_text="ada is typing a reply…").wait_for()
    assert seen_by_ada() == [{"name": "bob", "typing": False}]
    # bob's tab goes to the background (another tab in front): he is no longer there
    page.evaluate(BACKGROUND.replace("STATE", "hidden"))
    wait_for(lambda: seen_by_ada() == [])
    page.evaluate(BACKGROUND.replace("STATE", "visible"))
    wait_for(lambda: seen_by_ada() == [{"name": "bob", "typing": False}])

    page.keyboard.press("r")
    page.keyboard.type("Lo cerco subito")
    wait_for(lambda: seen_by_ada() == [{"name": "bob", "typing": True}])
    page.keyboard.press("Control+Enter")  # sent: bob no longer types
    wait_for(lambda: seen_by_ada() == [{"name": "bob", "typing": False}])
    page.get_by_role("button", name="Sign out").click()  # gone at once, not in 45 s
    page.wait_for_url(f"{running.url}/login")
    assert seen_by_ada() == []
    assert browser.errors == []


def test_a_note_naming_an_agent_brings_them_to_the_conversation(
    sqlite_url: str, start_daemon: Callable[..., RunningDaemon], browser: Browser
) -> None:
    running = start_daemon(make_settings(sqlite_url))
    page = _opened_by_bob(running, browser, giulia_said(97, "Buongiorno"))
    marco = InboundMessage(
        "telegram", "5551002:1", Thread("5551002"), Person("5551002", display_name="Marco Neri"),
        datetime.now(UTC), text="Il rimborso?",
    )  # fmt: skip
    with session_scope(running.daemon.engine) as session:
        (_, conversation), *_ = ingest(session, [marco], now=marco.sent_at).new_messages
        marcos = conversation.id
    note = {"text": "@bob tu sai del rimborso di Marco?", "author": "ada"}
    assert running.api.post(f"/api/v1/conversations/{marcos}/notes", json=note).status_code == 201

    mentioned = page.locator("#mentions-note")
    mentioned.wait_for()
    assert mentioned.inner_text() == "Mentioned: 1"
    mentioned.click()
    item = page.locator("#mentions-list .mention.unread", has_text="tu sai del rimborso")
    assert "ada" in item.inner_text()
    item.get_by_role("button").click()
    page.locator("#thread-title", has_text="Marco Neri").wait_for()
    page.locator("#messages .note", has_text="tu sai del rimborso").wait_for()
    mentioned.wait_for(state="hidden")
    # ada adds a note while bob has the conversation open: it shows live (note.created),
    # before the 15 s ping would have fetched it.
    more = {"text": "Ha già pagato, vedi ordine 88", "author": "ada"}
    assert running.api.post(f"/api/v1/conversations/{marcos}/notes", json=more).status_code == 201
    page.locator("#messages .note", has_text="vedi ordine 88").wait_for(timeout=5_000)
    assert browser.errors == []


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def test_the_top_bar_says_the_business_is_closed_and_when_it_reopens(
    sqlite_url: str, start_daemon: Callable[..., RunningDaemon], browser: Browser
) -> None:
    running = start_daemon(make_settings(sqlite_url))
    in_two_days = DAYS[(datetime.now(ZoneInfo("Europe/Rome")).weekday() + 2) % 7]
    closed_now = {"timezone": "Europe/Rome", "holidays": None, in_two_days: ["09:00-18:00"]}
    hours = "/api/v1/settings/business-hours"
    assert running.api.put(hours, json=closed_now).status_code == 200
    page = _opened_by_bob(running, browser, giulia_said(98, "Ci siete?"))
    note = page.locator("#hours-note")
    note.wait_for()
    status = running.api.get(f"{hours}/status", params={"language": "en"}).json()
    assert status["open"] is False and status["next_open_text"]
    assert note.inner_text() == f"Closed · we reopen {status['next_open_text']}"

    always = {"timezone": "Europe/Rome", "holidays": None, **{d: ["00:00-24:00"] for d in DAYS}}
    assert running.api.put(hours, json=always).status_code == 200
    page.reload()
    page.locator("#hours-note[data-open='true']").wait_for(state="attached")
    assert note.is_hidden()
    assert browser.errors == []
