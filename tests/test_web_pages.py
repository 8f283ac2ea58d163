"""Reports, listening and settings pages in a real headless Chromium."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from conftest import make_settings, wait_for

from sportello.connectors.base import InboundMessage, Person, Thread
from sportello.inbox import accounts, outbox
from sportello.inbox.db import session_scope
from sportello.inbox.ingest import ingest
from sportello.listening.alerts import raise_alert
from sportello.listening.mentions import store_public_tweets


def _seed(running) -> None:
    now = datetime.now(UTC)
    complaint = InboundMessage(
        channel="x",
        external_id="1861000000000000001",
        thread=Thread("1861000000000000001", public=True),
        customer=Person("2001", "Emma Clarke", handle="emmac"),
        sent_at=now,
        text="@acme terrible service, still no refund",
    )
    with session_scope(running.daemon.engine) as session:
        accounts.create_user(session, "ada", "ada-password", "admin", now)
        accounts.create_user(session, "bob", "bob-password", "agent", now)
        ingested = ingest(session, [complaint], now=now, scorer=running.daemon.sentiment.score)
        store_public_tweets(session, ingested)
        outbox.queue(session, ingested.new_messages[0][1], "We are on it, Emma.", now=now)
        raise_alert(session, "keyword", "refund", "refund: 1 item in 1h", {"count": 1}, now)


def _login(page, url: str, name: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(f"{name}-password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/")


def test_reports_listening_and_settings(sqlite_url, start_daemon, browser):
    running = start_daemon(make_settings(sqlite_url))
    _seed(running)
    page, url = browser.page, running.url
    _login(page, url, "ada")

    page.get_by_role("link", name="Reports").click()
    page.wait_for_selector("#report-cards .card")
    kpis = running.api.get("/api/v1/reports/kpis").json()
    conversations = page.locator(".card", has_text="Conversations").locator(".card-value")
    assert conversations.inner_text() == str(kpis["conversations"]) == "1"
    assert page.locator("#chart-heatmap rect.heat-cell").count() == 168
    page.screenshot(path="/tmp/sportello-reports.png")

    page.get_by_role("link", name="Listening").click()
    page.wait_for_selector("#mentions tr")
    assert "terrible service" in page.locator("#mentions").inner_text()
    assert "negative" in page.locator("#mentions").inner_text()
    assert "refund: 1 item in 1h" in page.locator("#alerts").inner_text()

    page.get_by_role("link", name="Settings").click()
    area = page.locator("#settings-business-hours")
    wait_for(lambda: area.input_value() != "")
    hours = {"timezone": "Europe/Rome", "holidays": "IT", "mon": ["08:00-12:00"]}
    area.fill(json.dumps(hours))
    page.locator("form[data-section='business-hours'] button").click()
    page.wait_for_selector("form[data-section='business-hours'] .result:has-text('Saved.')")
    stored = running.api.get("/api/v1/settings/business-hours").json()
    assert stored["mon"] == ["08:00-12:00"] and stored["tue"] == []
    area.fill('{"timezone": "Mars/Olympus"}')
    page.locator("form[data-section='business-hours'] button").click()
    page.wait_for_selector("form[data-section='business-hours'] .result:has-text('Mars')")
    assert page.locator("#hours-status").inner_text().startswith(("Open now", "Closed now"))
    assert browser.errors == []

    page.context.clear_cookies()
    _login(page, url, "bob")
    assert page.locator("a", has_text="Settings").count() == 0
    assert page.goto(f"{url}/settings").status == 403
