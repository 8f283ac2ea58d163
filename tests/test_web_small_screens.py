"""The web inbox on a phone and a tablet, in a real headless Chromium: one pane at a time
on a phone, the customer's card as a drawer, nothing wider than the screen."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from agent_helpers import sign_in
from conftest import Browser, RunningDaemon, make_settings, telegram_channel, wait_for
from customer_helpers import giulia_said

from sportello.connectors.emulators.server import BackgroundServer
from sportello.connectors.emulators.telegram import TelegramEmulator
from sportello.inbox import accounts
from sportello.inbox.conversations import set_status
from sportello.inbox.db import session_scope
from sportello.inbox.ingest import ingest

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

PHONE: ViewportSize = {"width": 390, "height": 844}
TABLET: ViewportSize = {"width": 1024, "height": 768}
SIDEWAYS = "document.scrollingElement.scrollWidth - window.innerWidth"


def test_an_agent_answers_from_a_phone_and_reads_the_customers_history(
    sqlite_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
    browser: Browser,
) -> None:
    emulator, platform = telegram_emulator
    running = start_daemon(make_settings(sqlite_url, channels=telegram_channel(platform.url)))
    now = datetime.now(UTC)
    last_week = now - timedelta(days=7)
    with session_scope(running.daemon.engine) as session:
        accounts.create_user(session, "bob", "bob-password", "agent", last_week)
        said = giulia_said(emulator.next_message_id(5551001), "È arrivato rotto.", last_week)
        (_, earlier), *_ = ingest(session, [said], now=last_week).new_messages
        set_status(session, earlier, "resolved", last_week, "ada")
        said = giulia_said(emulator.next_message_id(5551001), "Ancora nessun rimborso?", now)
        ingest(session, [said], now=now)

    page = browser.page
    page.set_viewport_size(PHONE)
    sign_in(page, running.url, "bob")
    page.locator("#live-status[data-state='live']").wait_for()
    item = page.locator("#conversation-list button.conversation", has_text="Giulia Rossi")
    item.wait_for()
    assert page.locator(".thread-pane").is_hidden()  # the list alone
    assert page.get_by_role("button", name="Keyboard shortcuts").is_hidden()  # no keyboard
    assert page.evaluate(SIDEWAYS) == 0
    status = page.locator("#filter-status")
    assert status.is_hidden()  # the filters fold away behind a button naming them
    page.get_by_role("button", name="Filters: Open ▾").click()
    status.select_option("resolved")
    page.get_by_role("button", name="Filters: Resolved ▾").wait_for()
    item.wait_for(state="detached")  # hers is open
    status.select_option("open")
    page.get_by_role("button", name="Filters: Open ▾").click()
    assert status.is_hidden()

    item.click()
    page.locator("#messages li.message", has_text="rimborso").wait_for()
    assert page.locator(".list-pane").is_hidden()  # the conversation alone
    assert page.evaluate(SIDEWAYS) == 0
    page.locator("#reply-text").fill("Ciao Giulia, il rimborso parte oggi.")
    page.get_by_role("button", name="Send").click()
    wait_for(lambda: any("rimborso parte oggi" in sent["text"] for sent in emulator.sent))

    page.get_by_role("button", name="Customer →").click()
    card = page.locator("#customer-pane")
    card.locator("#timeline li", has_text="arrivato rotto").wait_for()  # we know her case
    box = card.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert page.evaluate("document.activeElement.id") == "customer-close"
    page.keyboard.press("Escape")  # closes it; the keyboard goes back where it was
    card.wait_for(state="hidden")
    assert page.evaluate("document.activeElement.id") == "customer-open"
    page.get_by_role("button", name="Customer →").click()
    page.get_by_role("button", name="Close the customer's card").click()
    card.wait_for(state="hidden")

    resolve = page.get_by_role("button", name="Resolve", exact=True)
    assert resolve.is_hidden()  # the controls wait behind Actions, the messages keep the room
    page.get_by_role("button", name="Actions ▾").click()
    resolve.click()
    conversation_id = running.messages(direction="in")[0]["conversation_id"]
    wait_for(
        lambda: (
            running.api.get(f"/api/v1/conversations/{conversation_id}").json()["status"]
            == "resolved"
        )
    )

    page.get_by_role("button", name="← Conversations").click()
    item.wait_for(state="detached")  # resolved: no longer among the open ones
    assert page.locator(".list-pane").is_visible() and page.locator(".thread-pane").is_hidden()

    page.set_viewport_size(TABLET)  # three panes, the top bar on two lines if it must
    sign_out = page.get_by_role("button", name="Sign out").bounding_box()
    assert sign_out is not None and sign_out["x"] + sign_out["width"] <= TABLET["width"]
    assert page.locator(".thread-pane").is_visible() and card.is_visible()
    assert browser.errors == []
