"""The reports, listening and settings pages in a real headless Chromium (Debian's).

Data is seeded through the real functions (ingest, store_mention, raise_alert) and the
figures the pages show are compared with what the JSON API answers for the same query.
Screenshots (1366 x 768) are written to the temporary directory for a human look.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from conftest import Browser, RunningDaemon, make_settings
from kpi_fixtures import Inbox
from sqlmodel import select

from sportello.api.i18n import MESSAGES
from sportello.config.settings import load_settings
from sportello.connectors.mentions import FoundMention
from sportello.inbox import accounts
from sportello.inbox.clock import FrozenClock
from sportello.inbox.db import session_scope
from sportello.inbox.models import Conversation
from sportello.inbox.survey_tables import Survey
from sportello.inbox.surveys import SurveyAnswers, run_surveys
from sportello.listening.alerts import raise_alert
from sportello.listening.mentions import store_mention
from sportello.listening.models import AlertNotification

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

SHOTS = Path(tempfile.gettempdir())
API_DIR = Path(__file__).resolve().parents[1] / "api"


@pytest.fixture
def running(sqlite_url: str, start_daemon: Callable[..., RunningDaemon]) -> RunningDaemon:
    running = start_daemon(make_settings(sqlite_url))
    with session_scope(running.daemon.engine) as session:
        now = datetime.now(UTC)
        accounts.create_user(session, "ada", "ada-password", "admin", now)
        accounts.create_user(session, "bob", "bob-password", "agent", now)
    return running


def _login(page: Page, url: str, name: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(f"{name}-password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/")


def _attribute(element: Locator, name: str) -> str:
    value = element.get_attribute(name)
    assert value is not None, f"no {name}"
    return value


def _seed_inbox(running: RunningDaemon) -> None:
    """Three conversations in the last days: answered in 5 and 30 minutes, one waiting."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with session_scope(running.daemon.engine) as session:
        inbox = Inbox(session)
        start = now - timedelta(days=2)
        a = inbox.conversation("telegram", "1001", start, "Dov'è il mio ordine?")
        inbox.echo("telegram", "1001", start + timedelta(minutes=5))
        inbox.status(a, "resolved", start + timedelta(minutes=10))
        later = now - timedelta(days=1)
        inbox.conversation("whatsapp", "393331112222", later, "Posso cambiare taglia?")
        inbox.customer("whatsapp", "393331112222", later + timedelta(minutes=1), "Grazie")
        inbox.echo("whatsapp", "393331112222", later + timedelta(minutes=30))
        inbox.conversation("telegram", "1003", now - timedelta(hours=3), "Mi rispondete?")


def test_reports_page_shows_the_apis_figures_and_the_heatmap(
    running: RunningDaemon, browser: Browser
) -> None:
    _seed_inbox(running)
    with session_scope(running.daemon.engine) as session:
        whatsapp = session.exec(select(Conversation).where(Conversation.channel == "whatsapp"))
        whatsapp.one().assignee = "bob"
    page = browser.page
    _login(page, running.url, "ada")
    page.get_by_role("link", name="Reports").click()
    # The page puts its period in the address as soon as its script runs.
    page.wait_for_url(re.compile(r"/reports(\?|$)"))
    page.locator("body[data-loaded='true']").wait_for()

    params = {"from": page.input_value("#rep-from"), "to": page.input_value("#rep-to")}
    report = running.api.get("/api/v1/reports/kpis", params=params).json()
    assert report["messages_in"] == 4 and report["conversations"] == 3

    def figure(kpi: str) -> str:
        return page.locator(f"[data-kpi='{kpi}'] .figure").inner_text()

    assert figure("conversations") == "3"
    assert figure("messages_in") == str(report["messages_in"])
    assert figure("messages_out") == str(report["messages_out"])
    assert figure("backlog") == str(report["backlog"])
    assert (
        figure("resolution_rate")
        == f"{report['resolution_rate']:.1f}".rstrip("0").rstrip(".") + "%"
    )
    reply = page.locator("[data-kpi='reply_time']")
    for stat in ("avg", "median", "p90"):
        shown = _attribute(reply.locator(f"[data-stat='{stat}']"), "data-seconds")
        assert float(shown) == report["reply_time"][f"{stat}_s"]
    assert reply.locator("[data-stat='p90']").inner_text() == "30m 00s"

    cells = page.locator("#chart-heatmap rect.heat")
    assert cells.count() == 168
    busy = {
        (int(_attribute(c, "data-weekday")), int(_attribute(c, "data-hour"))): int(
            _attribute(c, "data-value")
        )
        for c in cells.all()
        if c.get_attribute("data-value") != "0"
    }
    assert busy == {(wd, h): n for wd, h, n in report["volume_by_hour"] if n}
    assert page.locator("#chart-distribution rect.bar").count() == 2  # 1-5m and 15-60m

    # by agent: the whatsapp conversation is bob's; the others nobody's
    agents = running.api.get("/api/v1/reports/agents", params=params).json()["agents"]
    rows = page.locator("#agents-table tbody tr")
    assert [_attribute(row, "data-agent") for row in rows.all()] == ["ada", "bob", ""]
    for row, figures in zip(rows.all(), agents, strict=True):
        for name in ("conversations", "backlog"):
            assert row.locator(f"[data-figure='{name}']").inner_text() == str(figures[name])
    unassigned = page.locator("#agents-table tr[data-agent='']")
    assert unassigned.locator("[data-figure='conversations']").inner_text() == "2"
    # by channel: Telegram's two conversations, WhatsApp's one
    by_channel = running.api.get("/api/v1/reports/channels", params=params).json()["channels"]
    rows = page.locator("#channels-table tbody tr")
    assert [_attribute(row, "data-channel") for row in rows.all()] == ["telegram", "whatsapp"]
    for row, figures in zip(rows.all(), by_channel, strict=True):
        for name in ("conversations", "messages_in", "backlog"):
            assert row.locator(f"[data-figure='{name}']").inner_text() == str(figures[name])
    page.screenshot(path=str(SHOTS / "sportello-reports.png"))
    page.screenshot(path=str(SHOTS / "sportello-reports-full.png"), full_page=True)
    page.locator("#agents-table").get_by_role("button", name="bob").click()
    page.wait_for_url(re.compile(r"agent=bob"))
    page.locator("#agents-table tbody tr:only-child[data-agent='bob']").wait_for()
    assert figure("conversations") == "1"
    page.fill("#rep-agent", "")
    page.get_by_role("button", name="Show").click()
    page.locator("#agents-table tbody tr[data-agent='']").wait_for()
    assert page.locator("#agents-table tbody tr").count() == 3
    assert figure("conversations") == "3"
    page.locator("#channels-table").get_by_role("button", name="WhatsApp").click()
    page.wait_for_url(re.compile(r"channel=whatsapp"))
    page.locator("#channels-table tbody tr:only-child[data-channel='whatsapp']").wait_for()
    assert figure("conversations") == "1" and page.input_value("#rep-channel") == "whatsapp"
    page.select_option("#rep-channel", "")
    page.get_by_role("button", name="Show").click()
    page.locator("#channels-table tbody tr[data-channel='telegram']").wait_for()
    # a team's report: bob's WhatsApp conversation is given to the team "billing"
    with session_scope(running.daemon.engine) as session:
        whatsapp = session.exec(select(Conversation).where(Conversation.channel == "whatsapp"))
        whatsapp.one().team = "billing"
    page.fill("#rep-team", "billing")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r"team=billing"))
    page.locator("#channels-table tbody tr:only-child[data-channel='whatsapp']").wait_for()
    assert figure("conversations") == "1"
    billing = page.locator("#teams-table tbody tr:only-child[data-team='billing']")
    assert billing.locator("[data-figure='conversations']").inner_text() == "1"
    page.fill("#rep-team", "")
    page.get_by_role("button", name="Show").click()
    page.locator("#teams-table tbody tr[data-team='']").wait_for()  # the ones of no team
    by_team = running.api.get("/api/v1/reports/teams", params=params).json()["teams"]
    rows = page.locator("#teams-table tbody tr")
    assert [_attribute(row, "data-team") for row in rows.all()] == ["billing", ""]
    for row, figures in zip(rows.all(), by_team, strict=True):
        for name in ("conversations", "messages_in", "backlog"):
            assert row.locator(f"[data-figure='{name}']").inner_text() == str(figures[name])
    assert rows.last.locator("th").inner_text() == "No team"
    page.locator("#teams-table").get_by_role("button", name="billing").click()
    page.wait_for_url(re.compile(r"team=billing"))
    assert page.input_value("#rep-team") == "billing"
    page.fill("#rep-team", "")

    page.get_by_role("button", name="30 days").click()
    page.wait_for_url(re.compile(r"/reports\?from="))
    csv_href = _attribute(page.locator("#export-csv"), "href")
    csv = running.api.get(csv_href)
    assert csv.headers["content-type"].startswith("text/csv")
    assert "messages_in,4" in csv.text.splitlines()
    assert browser.errors == []


def test_listening_page_shows_mentions_and_alerts_and_relabels(
    running: RunningDaemon, browser: Browser
) -> None:
    now = datetime.now(UTC)
    with session_scope(running.daemon.engine) as session:
        mention = store_mention(
            session,
            FoundMention(
                source="x",
                external_id="1790000000000000001",
                text="@sportello_it servizio pessimo, il pacco è arrivato rotto",
                published_at=now - timedelta(hours=1),
                author_id="42",
                author_handle="anna_b",
                author_name="Anna B",
                language="it",
            ),
            topic="brand",
            query="sportello",
            now=now,
            sentiment=running.daemon.sentiment,
        )
        assert mention is not None and mention.sentiment_label == "negative"
        mention_id = mention.id
        alert = raise_alert(
            session,
            "negative_share",
            "brand",
            "Negative mentions: 100% in 1h",
            {},
            now,
            rule="negative-share",
        )
        assert alert is not None and alert.id is not None
        session.add(
            AlertNotification(
                alert_id=alert.id,
                event="fired",
                sink="ops-chat",
                state="failed",
                attempts=10,
                next_attempt_at=now,
                last_error="HTTP 502",
            )
        )

    page = browser.page
    _login(page, running.url, "bob")
    page.goto(f"{running.url}/listening")
    item = page.locator(f"#mentions li.mention[data-id='{mention_id}']")
    item.wait_for()
    assert "pacco è arrivato rotto" in item.inner_text()
    assert item.locator(".sentiment-negative").count() == 1
    alert_item = page.locator("#alerts li.alert-firing", has_text="Negative mentions")
    alert_item.wait_for()
    assert "ops-chat" in alert_item.inner_text() and "failed" in alert_item.inner_text()
    assert page.locator("#chart-trend rect.bar-negative").count() == 1
    page.locator("body[data-loaded='true']").wait_for()
    page.screenshot(path=str(SHOTS / "sportello-listening.png"))

    item.get_by_label("Sentiment").select_option("positive")
    page.locator(f"#mentions li[data-id='{mention_id}'] .sentiment-positive").wait_for()
    stored = running.api.get(f"/api/v1/mentions/{mention_id}").json()["sentiment"]
    assert stored["label"] == "positive" and stored["corrected"] is True

    page.select_option("#men-label", "negative")
    page.locator("#mentions .empty").wait_for()
    assert browser.errors == []


def test_admin_edits_hours_and_a_closure_and_agents_cannot(
    running: RunningDaemon, browser: Browser
) -> None:
    page = browser.page
    _login(page, running.url, "ada")
    page.get_by_role("link", name="Settings").click()
    page.wait_for_url(f"{running.url}/settings")
    status = page.locator("#hours-status")
    status.locator("text=Open now").wait_for()  # no hours yet: always open

    monday = page.locator("tr[data-day='mon']")
    monday.get_by_role("button", name="period").click()
    monday.get_by_label("Monday from").fill("09:00")
    monday.get_by_label("Monday to").fill("13:00")
    page.get_by_role("button", name="closure").click()
    closures = page.locator("[data-intervals='closures'] input")
    closures.last.fill("2026-02-30")
    page.locator("#hours-form").get_by_role("button", name="Save").click()
    error = page.locator("#hours-form [data-error='closures']")
    error.wait_for()
    assert "2026-02-30" in error.inner_text()
    assert running.api.get("/api/v1/settings/business-hours").json() is None

    today = datetime.now(UTC).astimezone().date()  # the closure covers now, whatever the zone
    closure = f"{today - timedelta(days=1)}/{today + timedelta(days=1)}"
    closures.last.fill(closure)
    page.locator("#hours-form").get_by_role("button", name="Save").click()
    status.locator("text=Closed now").wait_for()
    assert "closure in force" in status.inner_text()
    assert "next opening: Monday" in status.inner_text()  # in the page's language
    assert error.is_hidden()
    stored = running.api.get("/api/v1/settings/business-hours").json()
    assert stored["mon"] == ["09:00-13:00"] and stored["closures"] == [closure]
    assert stored["tue"] == [] and stored["timezone"] == "Europe/Rome"
    page.screenshot(path=str(SHOTS / "sportello-settings.png"))
    assert browser.errors == []

    page.get_by_role("button", name="Sign out").click()
    _login(page, running.url, "bob")
    assert page.get_by_role("link", name="Settings").count() == 0
    response = page.goto(f"{running.url}/settings")
    assert response is not None and response.status == 403
    assert "administrators only" in page.inner_text("main")
    put = page.evaluate(
        """async () => (await fetch('/api/v1/settings/business-hours', {method: 'PUT',
        headers: {'Content-Type': 'application/json',
                  'X-CSRF-Token': document.querySelector('[name=csrf]').value},
        body: JSON.stringify({timezone: 'UTC'})})).status"""
    )
    assert put == 403


def test_an_agent_takes_conversations_and_an_admin_turns_assignment_on(
    running: RunningDaemon, browser: Browser
) -> None:
    page = browser.page
    _login(page, running.url, "bob")
    taking = page.get_by_label("Taking conversations")
    page.locator("#available[data-loaded='true']").wait_for(state="attached")
    assert not taking.is_checked()
    taking.check()
    page.wait_for_function(
        "async () => (await (await fetch('/api/v1/me')).json()).available === true"
    )
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{running.url}/login")

    _login(page, running.url, "ada")
    page.get_by_role("link", name="Settings").click()
    page.locator("body[data-loaded='true']").wait_for()
    bob = page.locator("#users li[data-user='bob']")
    assert "not available" in bob.inner_text()  # signing out ended it
    bob.get_by_label("speaks: bob").fill("IT, en")
    bob.get_by_label("speaks: bob").press("Enter")
    page.wait_for_function(
        """async () => (await (await fetch('/api/v1/users')).json())
            .find((u) => u.name === 'bob').languages.join() === 'it,en'"""
    )
    assert page.locator("#users-form [data-error='']").is_hidden()  # no user was added
    drawn = page.get_attribute("#users", "data-drawn")
    bob.get_by_label("WhatsApp").check()
    page.locator(f"#users:not([data-drawn='{drawn}'])").wait_for()  # saved, drawn again
    bob.get_by_label("Messenger").check()
    page.wait_for_function(
        """async () => (await (await fetch('/api/v1/users')).json())
            .find((u) => u.name === 'bob').channels.join() === 'whatsapp,messenger'"""
    )
    # bob left with his box ticked (here through the API): an admin makes him unavailable.
    (bob_id,) = (u["id"] for u in running.api.get("/api/v1/users").json() if u["name"] == "bob")
    running.api.patch(f"/api/v1/users/{bob_id}", json={"available": True})
    page.reload()
    page.locator("body[data-loaded='true']").wait_for()
    drawn = page.get_attribute("#users", "data-drawn")
    bob.get_by_role("button", name="make unavailable").click()
    page.locator(f"#users:not([data-drawn='{drawn}'])").wait_for()  # saved, drawn again
    assert "not available" in bob.inner_text()
    (bob_row,) = (u for u in running.api.get("/api/v1/users").json() if u["name"] == "bob")
    assert bob_row["available"] is False
    form = page.locator("#assignment-form")
    assert form.get_by_label("Assign").input_value() == "off"
    form.get_by_label("Assign").select_option("balanced")
    form.get_by_label("At most open per agent (0: no cap)").fill("-1")
    form.get_by_role("button", name="Save").click()
    form.locator("[data-error='max_open_per_agent']").wait_for()
    form.get_by_label("At most open per agent (0: no cap)").fill("8")
    form.get_by_role("button", name="Save").click()
    form.locator(".saved").wait_for()
    rule = running.api.get("/api/v1/settings/assignment").json()
    assert rule == {"mode": "balanced", "max_open_per_agent": 8}
    assert browser.errors == []


def test_every_word_the_pages_use_exists_in_both_languages() -> None:
    used: set[str] = set()
    for path in [*API_DIR.glob("templates/*.html"), *API_DIR.glob("static/*.js")]:
        if path.name in {"inbox.html", "inbox.js", "login.html"}:
            continue
        text = path.read_text()
        used |= set(re.findall(r"""t\[["']([a-z_]+\.[a-z_0-9]+)["']\]""", text))
        used |= set(re.findall(r"""\bt\(["']([a-z_]+\.[a-z_0-9]+)["']\)""", text))
    assert len(used) > 100
    for language, words in MESSAGES.items():
        assert not used - words.keys(), language
    assert MESSAGES["it"].keys() == MESSAGES["en"].keys()


def test_every_page_names_an_icon_the_daemon_serves(
    sqlite_url: str, start_daemon: Callable[..., RunningDaemon]
) -> None:
    running = start_daemon(make_settings(sqlite_url))
    login = running.api.get("/login")
    found = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', login.text)
    assert found is not None, login.text[:500]
    icon = running.api.get(found.group(1))
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.text.startswith("<svg")


def test_reports_page_says_why_customers_gave_a_low_score(
    running: RunningDaemon, browser: Browser, sqlite_url: str
) -> None:
    """Through the real survey path: asked, answered 2 with the button, then why."""
    settings = load_settings(
        None, database={"url": sqlite_url}, surveys={"enabled": True, "delay": "1m"}
    )
    engine = running.daemon.engine
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    with session_scope(engine) as session:
        inbox = Inbox(session)
        conversation = inbox.customer("telegram", "1001", start, "Ordine?", name="Giulia Rossi")
        conversation_id = conversation.new_messages[0][1].id
        inbox.reply(conversation.new_messages[0][1], start + timedelta(minutes=5))
        inbox.status(conversation.new_messages[0][1], "resolved", start + timedelta(minutes=10))
    assert run_surveys(engine, settings, start + timedelta(minutes=11)) == 1
    with session_scope(engine) as session:
        survey_id = session.exec(select(Survey.id)).one()
    for minutes, text, payload in ((12, "2", f"survey:{survey_id}:2"), (13, "Troppo lento", None)):
        at = start + timedelta(minutes=minutes)
        with session_scope(engine) as session:
            said = Inbox(session).customer("telegram", "1001", at, text, button_payload=payload)
            SurveyAnswers(settings, FrozenClock(at))(session, said)

    page = browser.page
    _login(page, running.url, "bob")
    page.goto(f"{running.url}/reports")
    comment = page.locator("#survey-comments li.comment")
    comment.wait_for()
    assert comment.locator(".score").inner_text() == "CSAT 2"
    assert comment.locator("q").inner_text() == "Troppo lento"
    assert "Giulia Rossi · Telegram" in comment.inner_text()
    comment.get_by_role("link", name="Open the conversation").click()
    page.wait_for_url(f"{running.url}/?conversation={conversation_id}")
    page.locator("#thread-title", has_text="Giulia Rossi").wait_for()
    page.locator("#messages li.message", has_text="Troppo lento").wait_for()
    assert browser.errors == []
