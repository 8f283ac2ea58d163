"""A conversation's history: ``GET /api/v1/conversations/{id}/events`` and the inbox's lines.

Changes are made through the real API (agents' own tokens) and a Telegram-shaped webhook
whose message a triage rule acts on; the inbox is read in a real headless Chromium.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from agent_helpers import agent_token, sign_in, telegram_conversation
from conftest import (
    Browser,
    RunningDaemon,
    make_settings,
    telegram_channel,
)
from telegram_helpers import customer_writes

from sportello import scheduler
from sportello.connectors.emulators import telegram_payloads as tg
from sportello.connectors.emulators.server import BackgroundServer
from sportello.connectors.emulators.telegram import TelegramEmulator

ROME = ZoneInfo("Europe/Rome")  # the test browser's time zone
GIULIA = tg.user(5551001, "Giulia", "Rossi")
RULES = [{"name": "refunds", "keywords": ["rimbors*"], "add_tags": ["refund"], "priority": 2}]


def _history(running: RunningDaemon) -> tuple[int, dict[str, str]]:
    """Giulia's conversation, changed by bob (his token) and the configured token ``api``."""
    conversation = customer_writes(running, GIULIA, "Buongiorno, quando arriva il rimborso?")
    bob = agent_token(running, "bob", datetime.now(UTC))
    path = f"/api/v1/conversations/{conversation}"
    until = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    for change, who in [
        ({"assignee": "bob"}, bob),
        ({"priority": 3}, bob),
        ({"priority": 3}, bob),  # no change: no event
        ({"tags": ["refund", "vip"]}, bob),
        ({"tags": ["vip"]}, bob),
        ({"status": "snoozed", "snoozed_until": until.isoformat()}, bob),
        ({"assignee": None}, {}),
    ]:
        answer = running.api.patch(path, json=change, headers=who)
        assert answer.status_code == 200, answer.text
    return conversation, bob


def test_the_events_say_who_did_what_oldest_first(
    database_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    _, telegram = telegram_emulator
    running = start_daemon(
        make_settings(database_url, channels=telegram_channel(telegram.url), triage_rules=RULES)
    )
    conversation, bob = _history(running)
    path = f"/api/v1/conversations/{conversation}/events"
    items = running.api.get(path, headers=bob).json()["items"]
    shown = [(e["kind"], e["actor"], e["data"]) for e in items]
    assert shown[:2] == [
        ("opened", None, {}),
        ("rule", "rules", {"rules": ["refunds"], "tags": ["refund"], "priority": 2}),
    ]
    assert shown[2:] == [
        ("assigned", "bob", {"assignee": "bob"}),
        ("priority", "bob", {"priority": 3, "previous": 2}),
        ("tagged", "bob", {"added": ["vip"], "removed": []}),  # refund it had from the rule
        ("tagged", "bob", {"added": [], "removed": ["refund"]}),
        ("snoozed", "bob", {"previous": "open", "until": shown[6][2]["until"]}),
        ("assigned", "api", {"assignee": None}),
    ]
    assert datetime.fromisoformat(shown[6][2]["until"]) > datetime.now(UTC)
    times = [datetime.fromisoformat(e["at"]) for e in items]
    assert times == sorted(times)

    # a page at a time, the same events
    walked: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = running.api.get(path, params=params).json()
        walked += page["items"]
        if not (cursor := page["next_cursor"]):
            break
    assert walked == items
    assert running.api.get("/api/v1/conversations/999/events").status_code == 404
    assert running.api.get(path, headers={"Authorization": "Bearer nope"}).status_code == 401


def test_the_inbox_shows_the_history_among_the_messages(
    sqlite_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
    browser: Browser,
) -> None:
    _, telegram = telegram_emulator
    running = start_daemon(
        make_settings(sqlite_url, channels=telegram_channel(telegram.url), triage_rules=RULES)
    )
    conversation, _ = _history(running)
    running.api.patch(f"/api/v1/conversations/{conversation}", json={"status": "open"})
    page = browser.page
    sign_in(page, running.url, "bob")
    page.locator("#live-status[data-state='live']").wait_for()
    page.locator("#conversation-list button.conversation", has_text="Giulia Rossi").click()
    lines = page.locator("#messages li.activity")
    lines.last.wait_for()
    texts = [text.rsplit(" · ", 1)[0] for text in lines.all_inner_texts()]
    assert texts[:5] == [
        "Triage rules refunds: +refund · P2 high",
        "bob took it",
        "bob set the priority: P3 urgent",
        "bob tagged it +vip",
        "bob tagged it \N{MINUS SIGN}refund",
    ]
    assert texts[5].startswith("bob snoozed it until ")
    assert texts[6:] == ["api let it go", "api set it open"]
    # the customer's message comes first, the rule's line right after it
    kinds = page.locator("#messages > li").evaluate_all("items => items.map((i) => i.className)")
    assert kinds[0].split()[0] == "message" and kinds[1] == "activity"
    assert browser.errors == []


def test_the_history_says_when_an_sla_target_neared_and_was_missed(
    sqlite_url: str, start_daemon: Callable[..., RunningDaemon], browser: Browser
) -> None:
    sla = [{"name": "standard", "first_response": "1h", "warn_before": "15m"}]
    running = start_daemon(make_settings(sqlite_url, sla=sla))
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    telegram_conversation(running.daemon.engine, "5551009", two_hours_ago, "Ci siete?")
    warned = two_hours_ago + timedelta(minutes=50)  # the check ran then, and now
    assert scheduler.check_service_levels(running.daemon, warned) == 1
    assert scheduler.check_service_levels(running.daemon, datetime.now(UTC)) == 1
    agent_token(running, "bob", datetime.now(UTC))
    page = browser.page
    sign_in(page, running.url, "bob")
    page.locator("#live-status[data-state='live']").wait_for()
    page.locator("#conversation-list button.conversation", has_text="Customer 5551009").click()
    missed = page.locator("#messages li.activity-sla-breach")
    missed.wait_for()
    due = (two_hours_ago + timedelta(hours=1)).astimezone(ROME).strftime("%d/%m/%Y, %H:%M")
    lines = page.locator("#messages li.activity").all_inner_texts()
    assert [line.rsplit(" · ", 1)[0] for line in lines] == [
        f"First response due at {due} (standard SLA)",
        f"First response target missed: due at {due} (standard SLA)",
    ]
    assert browser.errors == []
