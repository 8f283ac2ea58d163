"""Desktop notifications in a real headless Chromium, from live events of real webhooks.

The browser's own ``Notification`` is wrapped (an init script) to record what the inbox
shows; it still creates the real one. bob has Giulia's conversation open; Marco's nobody
has (until automatic assignment gives it to bob), Anna's is ada's.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from agent_helpers import sign_in
from conftest import (
    Browser,
    RunningDaemon,
    make_settings,
    telegram_channel,
    wait_for,
)
from telegram_helpers import customer_writes

from sportello import scheduler
from sportello.connectors.emulators import telegram_payloads as tg
from sportello.connectors.emulators.server import BackgroundServer
from sportello.connectors.emulators.telegram import TelegramEmulator
from sportello.inbox import accounts
from sportello.inbox.db import session_scope

RECORDER = """
(() => {
  const Real = window.Notification;
  const shown = [];
  class Recorded extends Real {
    constructor(title, options) {
      super(title, options);
      shown.push({ title, body: options.body, tag: options.tag, instance: this });
    }
    static get permission() { return Real.permission; }
    static requestPermission() { return Real.requestPermission(); }
  }
  window.Notification = Recorded;
  window.shownNotifications = shown;
})();
"""
SHOWN = "window.shownNotifications.map(({ title, body, tag }) => ({ title, body, tag }))"
GIULIA = tg.user(5551001, "Giulia", "Rossi")
MARCO = tg.user(5551002, "Marco", "Neri")
ANNA = tg.user(5551003, "Anna", "Bianchi")


def test_notifications_for_mine_and_unassigned_and_mentions_open_the_conversation(
    sqlite_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
    browser: Browser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(scheduler, "ASSIGN_INTERVAL_S", 0.2)
    _, server = telegram_emulator
    settings = make_settings(
        sqlite_url, channels=telegram_channel(server.url), assignment={"mode": "balanced"}
    )
    running = start_daemon(settings)
    with session_scope(running.daemon.engine) as session:
        for name in ("ada", "bob"):
            accounts.create_user(session, name, f"{name}-password", "agent", datetime.now(UTC))
    giulia = customer_writes(running, GIULIA, "Buongiorno, il mio ordine?")
    marco = customer_writes(running, MARCO, "Salve")
    anna = customer_writes(running, ANNA, "Ciao")
    for conversation, agent in ((giulia, "bob"), (anna, "ada")):
        patch = running.api.patch(f"/api/v1/conversations/{conversation}", json={"assignee": agent})
        assert patch.status_code == 200

    page = browser.page
    page.context.grant_permissions(["notifications"], origin=running.url)
    page.add_init_script(RECORDER)
    sign_in(page, running.url, "bob")
    page.locator("#live-status[data-state='live']").wait_for()  # the box's script is there
    switch = page.get_by_label("Notifications")
    assert not switch.is_checked()
    switch.check()
    page.reload()  # the choice stays in this browser
    page.locator("#live-status[data-state='live']").wait_for()
    assert page.get_by_label("Notifications").is_checked()
    page.locator("#conversation-list button.conversation", has_text="Giulia Rossi").click()
    page.locator("#messages li.message", has_text="il mio ordine").wait_for()
    assert page.evaluate("document.hasFocus()")

    def shown() -> list[dict[str, str]]:
        return list(page.evaluate(SHOWN))

    customer_writes(running, GIULIA, "Ci siete?")  # the one bob is looking at: no notification
    customer_writes(running, ANNA, "Novità?")  # ada's: not for bob
    customer_writes(running, MARCO, "Mi serve aiuto con un reso")  # nobody's
    wait_for(shown)
    page.locator("#messages li.message", has_text="Ci siete?").wait_for()
    note = {"text": "@bob puoi seguire tu Anna?", "author": "ada"}
    assert running.api.post(f"/api/v1/conversations/{anna}/notes", json=note).status_code == 201
    wait_for(lambda: len(shown()) == 2)
    marcos = {"title": "Marco Neri", "body": "Mi serve aiuto con un reso"}
    mention = {"title": "ada mentioned you", "body": "Anna Bianchi"}
    assert shown() == [
        {**marcos, "tag": f"conversation-{marco}"},
        {**mention, "tag": f"conversation-{anna}"},
    ]

    page.evaluate(
        "window.shownNotifications[0].instance.dispatchEvent(new Event('click'))"
    )  # as the desktop does when bob clicks it
    page.locator("#thread-title", has_text="Marco Neri").wait_for()

    # bob takes conversations while looking at Giulia's: automatic assignment gives him
    # Marco's, nobody's until now
    page.locator("#conversation-list button.conversation", has_text="Giulia Rossi").click()
    page.locator("#thread-title", has_text="Giulia Rossi").wait_for()
    page.get_by_label("Taking conversations").check()
    wait_for(lambda: len(shown()) == 3)
    assert shown()[2] == {
        "title": "A conversation for you",
        "body": "Marco Neri: Mi serve aiuto con un reso",
        "tag": f"conversation-{marco}",
    }

    # ada's Anna is handed to bob (by the API's configured token, named "api")
    handed = running.api.patch(f"/api/v1/conversations/{anna}", json={"assignee": "bob"})
    assert handed.status_code == 200
    wait_for(lambda: len(shown()) == 4)
    assert shown()[3] == {
        "title": "api gave you a conversation",
        "body": "Anna Bianchi: Novità?",  # the customer's newest message, not the note
        "tag": f"conversation-{anna}",
    }

    page.get_by_label("Notifications").uncheck()
    customer_writes(running, MARCO, "Grazie")  # bob's now, not in front, but switched off
    customer_writes(running, GIULIA, "Allora?")
    page.locator("#messages li.message", has_text="Allora?").wait_for()
    assert len(shown()) == 4
    assert browser.errors == []


def _bob_with_notifications(
    running: RunningDaemon, browser: Browser, permission: str
) -> Callable[[], list[dict[str, str]]]:
    """bob signs in with the browser's notification permission set to ``permission`` and
    ticks the box; returns what the page has shown since."""
    with session_scope(running.daemon.engine) as session:
        accounts.create_user(session, "bob", "bob-password", "agent", datetime.now(UTC))
    page = browser.page
    page.add_init_script(RECORDER)
    sign_in(page, running.url, "bob")
    page.locator("#live-status[data-state='live']").wait_for()
    cdp = page.context.new_cdp_session(page)
    context_id = cdp.send("Target.getTargetInfo")["targetInfo"]["browserContextId"]
    cdp.send(
        "Browser.setPermission",
        {
            "permission": {"name": "notifications"},
            "setting": permission,
            "origin": running.url,
            "browserContextId": context_id,  # Playwright's context, not the default one
        },
    )
    page.get_by_label("Notifications").click()
    return lambda: list(page.evaluate(SHOWN))


def test_a_browser_that_blocks_notifications_leaves_the_box_unticked_and_says_why(
    sqlite_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
    browser: Browser,
) -> None:
    _, server = telegram_emulator
    running = start_daemon(make_settings(sqlite_url, channels=telegram_channel(server.url)))
    shown = _bob_with_notifications(running, browser, "denied")
    switch = browser.page.get_by_label("Notifications")
    browser.page.locator("#notify[title*='blocks']").wait_for(state="attached")
    assert not switch.is_checked()
    assert switch.get_attribute("title") == (
        "The browser blocks notifications for this site: allow them in its site settings."
    )
    assert browser.page.evaluate("localStorage.getItem('sportello.notify')") is None
    customer_writes(running, MARCO, "Salve, c'è qualcuno?")  # nobody's: would notify if allowed
    browser.page.locator("#conversation-list button.conversation", has_text="Marco").wait_for()
    assert shown() == []
    assert browser.errors == []


def test_a_triage_rule_that_gives_me_a_conversation_notifies_me(
    sqlite_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
    browser: Browser,
) -> None:
    _, server = telegram_emulator
    rules = [{"name": "returns", "keywords": ["reso"], "assign": "bob"}]
    running = start_daemon(
        make_settings(sqlite_url, channels=telegram_channel(server.url), triage_rules=rules)
    )
    shown = _bob_with_notifications(running, browser, "granted")
    browser.page.locator("#notify:checked").wait_for()
    marco = customer_writes(running, MARCO, "Vorrei fare un reso")
    wait_for(lambda: len(shown()) == 2)
    # the customer wrote in (now) mine, then it was given to me: the same tag, so the
    # desktop shows the second in place of the first
    assert shown() == [
        {"title": "Marco Neri", "body": "Vorrei fare un reso", "tag": f"conversation-{marco}"},
        {
            "title": "A conversation for you",
            "body": "Marco Neri: Vorrei fare un reso",
            "tag": f"conversation-{marco}",
        },
    ]
    assert browser.errors == []
