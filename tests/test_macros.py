"""Macros: written by admins, applied by agents, every step in one transaction or none.

A Telegram-shaped webhook brings the customer; the reply goes out through the Telegram
emulator; a WhatsApp conversation whose 24-hour window closed refuses a macro with a reply.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from agent_helpers import agent_token, sign_in
from conftest import (
    Browser,
    RunningDaemon,
    make_settings,
    telegram_channel,
    wait_for,
    whatsapp_channel,
)
from sqlmodel import func, select
from telegram_helpers import customer_writes

from sportello.connectors.base import InboundMessage, Person, Thread
from sportello.connectors.emulators import telegram_payloads as tg
from sportello.connectors.emulators.meta import GraphEmulator
from sportello.connectors.emulators.server import BackgroundServer
from sportello.connectors.emulators.telegram import TelegramEmulator
from sportello.inbox import accounts
from sportello.inbox.db import session_scope
from sportello.inbox.desk_models import ConversationNote
from sportello.inbox.ingest import ingest
from sportello.inbox.models import ConversationTag, Message

GIULIA = tg.user(5551001, "Giulia", "Rossi")
MARCO = tg.user(5551002, "Marco", "Bianchi")
THANKS = {
    "name": "Thanks, resolved",
    "reply": "Grazie {name}, tutto risolto!",
    "note": "Chiusa con la macro",
    "add_tags": ["done", " "],
    "take": True,
    "status": "resolved",
}


def _closed_window_conversation(running: RunningDaemon) -> int:
    """A WhatsApp conversation whose customer last wrote two days ago: the platform refuses
    a free-form reply now (the 24-hour window)."""
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    customer = Person("393331234567", "Lucia Verdi")
    event = InboundMessage(
        "whatsapp", "wamid.1", Thread("393331234567"), customer, two_days_ago, text="Ciao"
    )
    with session_scope(running.daemon.engine) as session:
        conversation = ingest(session, [event], now=two_days_ago).new_messages[0][1].id
    assert conversation is not None
    return conversation


def test_admins_write_macros_and_an_agent_applies_one_in_one_go(
    database_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, telegram = telegram_emulator
    running = start_daemon(make_settings(database_url, channels=telegram_channel(telegram.url)))
    bob = agent_token(running, "bob", datetime.now(UTC))
    assert running.api.post("/api/v1/macros", json=THANKS, headers=bob).status_code == 403
    created = running.api.post("/api/v1/macros", json=THANKS)
    assert created.status_code == 201, created.text
    macro = created.json()
    assert macro["add_tags"] == ["done"] and macro["updated_by"] == "api"
    assert running.api.post("/api/v1/macros", json=THANKS).status_code == 409  # same name
    idle = running.api.post("/api/v1/macros", json={"name": "idle", "add_tags": [" "]})
    assert idle.status_code == 422 and "needs a step" in idle.text
    assert running.api.get("/api/v1/macros", headers=bob).json()[0]["name"] == "Thanks, resolved"

    conversation = customer_writes(running, GIULIA, "Il pacco è arrivato, grazie!")
    path = f"/api/v1/conversations/{conversation}/macros/{macro['id']}"
    applied = running.api.post(path, headers=bob)
    assert applied.status_code == 200, applied.text
    shown = applied.json()
    assert shown["conversation"]["status"] == "resolved"
    assert shown["conversation"]["assignee"] == "bob" and shown["conversation"]["tags"] == ["done"]
    assert shown["message"]["text"] == "Grazie Giulia Rossi, tutto risolto!"
    assert shown["message"]["sent_by"] == "bob"
    wait_for(lambda: [m for m in emulator.sent if m["text"].startswith("Grazie Giulia")])
    notes = running.api.get(f"/api/v1/conversations/{conversation}/notes").json()["items"]
    assert [(n["author"], n["text"]) for n in notes] == [("bob", "Chiusa con la macro")]
    events = running.api.get(f"/api/v1/conversations/{conversation}/events").json()["items"]
    assert [(e["kind"], e["actor"]) for e in events[1:]] == [
        ("resolved", "bob"),
        ("assigned", "bob"),
        ("tagged", "bob"),
    ]

    # a snooze for a day: snoozed until then; a status and a snooze together are refused
    wait = {"name": "Wait a day", "snooze_for": "1d"}
    both = running.api.post("/api/v1/macros", json={**wait, "status": "pending"})
    assert both.status_code == 422 and "not both" in both.text
    assert running.api.post("/api/v1/macros", json={**wait, "snooze_for": "1x"}).status_code == 422
    waiting = running.api.post("/api/v1/macros", json=wait).json()
    before = datetime.now(UTC)
    snoozed = running.api.post(
        f"/api/v1/conversations/{conversation}/macros/{waiting['id']}", headers=bob
    ).json()["conversation"]
    until = datetime.fromisoformat(snoozed["snoozed_until"])
    assert snoozed["status"] == "snoozed"
    assert before + timedelta(days=1) <= until <= datetime.now(UTC) + timedelta(days=1)
    assert running.api.delete(f"/api/v1/macros/{waiting['id']}").status_code == 204

    # edited, then deleted: gone from the list, and applying it is a 404
    changed = {"name": "Pending", "status": "pending", "priority": 0}
    assert running.api.put(f"/api/v1/macros/{macro['id']}", json=changed).status_code == 200
    assert running.api.post(path, headers=bob).json()["conversation"]["status"] == "pending"
    assert running.api.delete(f"/api/v1/macros/{macro['id']}", headers=bob).status_code == 403
    assert running.api.delete(f"/api/v1/macros/{macro['id']}").status_code == 204
    assert running.api.get("/api/v1/macros").json() == []
    assert running.api.post(path, headers=bob).status_code == 404


def test_an_agent_keeps_macros_of_their_own_that_nobody_else_sees(
    database_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    _, telegram = telegram_emulator
    running = start_daemon(make_settings(database_url, channels=telegram_channel(telegram.url)))
    now = datetime.now(UTC)
    bob, carla = agent_token(running, "bob", now), agent_token(running, "carla", now)
    shared = running.api.post("/api/v1/macros", json=THANKS).json()
    assert shared["personal"] is False
    own = {"name": "Thanks, resolved", "add_tags": ["bob"], "personal": True}
    created = running.api.post("/api/v1/macros", json=own, headers=bob)
    assert created.status_code == 201, created.text  # the shared one's name: still free for him
    mine = created.json()
    assert (mine["personal"], mine["updated_by"]) == (True, "bob")
    again = running.api.post("/api/v1/macros", json=own, headers=bob)
    assert again.status_code == 409 and "you have" in again.json()["detail"]
    assert (
        running.api.post("/api/v1/macros", json={**own, "personal": False}, headers=bob).status_code
        == 403
    )
    assert running.api.post("/api/v1/macros", json=own, headers=carla).status_code == 201

    def listed(headers: dict[str, str] | None = None) -> list[tuple[str, bool, int]]:
        shown = running.api.get("/api/v1/macros", headers=headers).json()
        return [(m["name"], m["personal"], m["id"]) for m in shown]

    assert [(n, p) for n, p, _ in listed(bob)] == [
        ("Thanks, resolved", False),
        ("Thanks, resolved", True),
    ]
    assert mine["id"] not in [i for _, _, i in listed(carla)]
    assert mine["id"] not in [i for _, _, i in listed()]  # nor an admin

    path = f"/api/v1/macros/{mine['id']}"
    for refused in (
        running.api.put(path, json=own, headers=carla),
        running.api.delete(path, headers=carla),
        running.api.put(path, json=own),  # the admin token: it is not theirs either
    ):
        assert refused.status_code == 404
    renamed = running.api.put(path, json={**own, "name": "Mine"}, headers=bob)
    assert renamed.status_code == 200 and renamed.json()["name"] == "Mine"
    assert running.api.put(path, json={**own, "personal": False}, headers=bob).status_code == 403
    shared_path = f"/api/v1/macros/{shared['id']}"
    assert running.api.put(shared_path, json={**own, "name": "x"}, headers=bob).status_code == 403
    assert running.api.delete(shared_path, headers=bob).status_code == 403
    # an admin (the API token) makes the shared one their own, then shares it again
    thanks = {k: v for k, v in shared.items() if k not in ("id", "updated_at", "updated_by")}
    taken = running.api.put(shared_path, json={**thanks, "personal": True})
    assert taken.status_code == 200 and taken.json()["personal"] is True
    assert shared["id"] not in [i for _, _, i in listed(bob)]
    assert running.api.put(shared_path, json=thanks).json()["personal"] is False
    assert shared["id"] in [i for _, _, i in listed(bob)]

    giulia = customer_writes(running, GIULIA, "Ciao!")
    applied = running.api.post(f"/api/v1/conversations/{giulia}/macros/{mine['id']}", headers=bob)
    assert applied.json()["conversation"]["tags"] == ["bob"]
    for by_carla in (
        running.api.post(f"/api/v1/conversations/{giulia}/macros/{mine['id']}", headers=carla),
        running.api.post(
            f"/api/v1/macros/{mine['id']}/apply", json={"ids": [giulia]}, headers=carla
        ),
    ):
        assert by_carla.status_code == 404
    assert running.api.delete(path, headers=bob).status_code == 204
    assert [(n, p) for n, p, _ in listed(bob)] == [("Thanks, resolved", False)]


def test_a_reply_the_platform_refuses_now_leaves_the_conversation_as_it_was(
    database_url: str,
    whatsapp_emulator: tuple[GraphEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    _, server = whatsapp_emulator
    running = start_daemon(make_settings(database_url, channels=whatsapp_channel(server.url)))
    conversation = _closed_window_conversation(running)
    macros = {
        m["name"]: m["id"]
        for m in (
            running.api.post("/api/v1/macros", json=body).json()
            for body in (THANKS, {"name": "Tag only", "add_tags": ["late"]})
        )
    }
    refused = running.api.post(
        f"/api/v1/conversations/{conversation}/macros/{macros['Thanks, resolved']}"
    )
    assert refused.status_code == 409 and "24" in refused.json()["detail"]

    def state() -> dict[str, Any]:
        with session_scope(running.daemon.engine) as session:
            shown = running.api.get(f"/api/v1/conversations/{conversation}").json()
            return {
                "status": shown["status"],
                "assignee": shown["assignee"],
                "tags": shown["tags"],
                "notes": session.exec(select(func.count()).select_from(ConversationNote)).one(),
                "out": session.exec(
                    select(func.count()).select_from(Message).where(Message.direction == "out")
                ).one(),
            }

    assert state() == {"status": "open", "assignee": None, "tags": [], "notes": 0, "out": 0}
    tagged = running.api.post(f"/api/v1/conversations/{conversation}/macros/{macros['Tag only']}")
    assert tagged.status_code == 200  # no reply in it: the window does not matter
    assert state()["tags"] == ["late"]
    with session_scope(running.daemon.engine) as session:
        assert session.exec(select(func.count()).select_from(ConversationTag)).one() == 1


def test_a_macro_runs_on_many_conversations_and_leaves_the_refused_ones_as_they_were(
    database_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    whatsapp_emulator: tuple[GraphEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, telegram = telegram_emulator
    _, meta = whatsapp_emulator
    channels = {**telegram_channel(telegram.url), **whatsapp_channel(meta.url)}
    running = start_daemon(make_settings(database_url, channels=channels))
    bob = agent_token(running, "bob", datetime.now(UTC))
    thanks = running.api.post("/api/v1/macros", json=THANKS).json()["id"]
    tag_only = running.api.post("/api/v1/macros", json={"name": "Late", "add_tags": ["late"]})
    giulia = customer_writes(running, GIULIA, "Il pacco non arriva")
    marco = customer_writes(running, MARCO, "Anche il mio")
    closed = _closed_window_conversation(running)

    ids = [marco, closed, 999_999, giulia]
    applied = running.api.post(f"/api/v1/macros/{thanks}/apply", json={"ids": ids}, headers=bob)
    assert applied.status_code == 200, applied.text
    result = applied.json()
    assert result["applied"] == sorted([giulia, marco]) and result["missing"] == [999_999]
    assert [r["id"] for r in result["refused"]] == [closed]
    assert "whatsapp" in result["refused"][0]["reason"] and "24" in result["refused"][0]["reason"]

    def thanked() -> list[str]:
        return sorted(m["text"] for m in emulator.sent if "risolto" in m["text"])

    sent = wait_for(lambda: len(thanked()) == 2 and thanked())
    assert sent == ["Grazie Giulia Rossi, tutto risolto!", "Grazie Marco Bianchi, tutto risolto!"]
    for conversation in (giulia, marco):
        shown = running.api.get(f"/api/v1/conversations/{conversation}").json()
        assert (shown["status"], shown["assignee"], shown["tags"]) == ("resolved", "bob", ["done"])
        notes = running.api.get(f"/api/v1/conversations/{conversation}/notes").json()["items"]
        assert [(n["author"], n["text"]) for n in notes] == [("bob", "Chiusa con la macro")]
    untouched = running.api.get(f"/api/v1/conversations/{closed}").json()
    assert (untouched["status"], untouched["assignee"], untouched["tags"]) == ("open", None, [])
    assert running.api.get(f"/api/v1/conversations/{closed}/notes").json()["items"] == []
    assert running.messages(direction="out", conversation_id=closed) == []

    # a macro without a reply: the window does not matter
    late = running.api.post(
        f"/api/v1/macros/{tag_only.json()['id']}/apply", json={"ids": [closed]}, headers=bob
    ).json()
    assert (late["applied"], late["refused"]) == ([closed], [])
    assert running.api.get(f"/api/v1/conversations/{closed}").json()["tags"] == ["late"]
    missing = running.api.post("/api/v1/macros/424242/apply", json={"ids": [giulia]})
    assert missing.status_code == 404
    assert running.api.post(f"/api/v1/macros/{thanks}/apply", json={"ids": []}).status_code == 422


def test_an_admin_writes_a_macro_and_applies_it_from_the_inbox(
    sqlite_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    whatsapp_emulator: tuple[GraphEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
    browser: Browser,
) -> None:
    emulator, telegram = telegram_emulator
    channels = {**telegram_channel(telegram.url), **whatsapp_channel(whatsapp_emulator[1].url)}
    running = start_daemon(make_settings(sqlite_url, channels=channels))
    with session_scope(running.daemon.engine) as session:
        accounts.create_user(session, "ada", "ada-password", "admin", datetime.now(UTC))
    customer_writes(running, GIULIA, "Tutto arrivato, grazie mille")
    page = browser.page
    sign_in(page, running.url, "ada")
    page.locator("#live-status[data-state='live']").wait_for()
    page.get_by_role("link", name="Macros").click()
    page.locator("body[data-loaded='true']").wait_for()
    panel = page.locator("#shared-panel")
    assert panel.locator("#shared-none").is_visible()
    panel.get_by_role("button", name="+ shared macro").click()
    card = panel.locator("fieldset[data-macro='new']")
    card.get_by_role("button", name="Save").click()  # no name, no step
    card.locator("[data-error='name']").wait_for()
    card.get_by_label("Name").fill("Thanks")
    card.get_by_label("Reply").fill("Grazie a te {name}!")
    card.get_by_label("Add tags").fill("done")
    card.get_by_label("Status").select_option("resolved")
    card.get_by_role("button", name="Save").click()
    panel.locator("fieldset[data-macro] .saved").first.wait_for()
    assert panel.locator("#shared-none").is_hidden()
    panel.get_by_role("button", name="+ shared macro").click()
    card = panel.locator("fieldset[data-macro='new']")
    card.get_by_label("Name").fill("Wait")
    card.get_by_label("Snooze for").fill("2h")
    card.get_by_role("button", name="Save").click()
    panel.locator("fieldset[data-macro] legend", has_text="Wait").wait_for()
    mine = page.locator("#mine-panel")
    mine.get_by_role("button", name="+ macro of mine").click()
    card = mine.locator("fieldset[data-macro='new']")
    card.get_by_label("Name").fill("Solo mio")
    card.get_by_label("Add tags").fill("vip")
    card.get_by_role("button", name="Save").click()
    mine.locator("fieldset[data-macro] legend", has_text="Solo mio").wait_for()
    stored, waiting = running.api.get("/api/v1/macros").json()  # the API token's: shared only
    assert (waiting["name"], waiting["snooze_for"], waiting["status"]) == ("Wait", "2h", None)
    assert (stored["name"], stored["reply"], stored["status"], stored["personal"]) == (
        "Thanks",
        "Grazie a te {name}!",
        "resolved",
        False,
    )

    page.goto(f"{running.url}/")
    page.locator("#conversation-list button.conversation", has_text="Giulia Rossi").click()
    page.locator("#messages li.message", has_text="Tutto arrivato").wait_for()
    page.locator("#messages").click()  # out of any field: the shortcut m reaches the picker
    page.keyboard.press("m")
    assert page.evaluate("document.activeElement.id") == "conv-macro"
    mine = page.locator("#conv-macro optgroup[label='My macros'] option")
    assert mine.all_inner_texts() == ["Solo mio"]
    page.get_by_label("Macro…", exact=True).select_option(label="Thanks")
    page.locator("#messages li.message", has_text="Grazie a te Giulia Rossi!").wait_for()
    page.locator("#messages li.activity", has_text="ada resolved it").wait_for()
    assert page.locator("#conv-status").input_value() == "resolved"
    wait_for(lambda: [m for m in emulator.sent if m["text"] == "Grazie a te Giulia Rossi!"])

    # the bulk bar runs it on the picked ones; the one WhatsApp refuses now stays picked
    customer_writes(running, MARCO, "Arrivato anche il mio")
    closed = _closed_window_conversation(running)
    page.locator("#conversation-list button.conversation", has_text="Marco Bianchi").wait_for()
    page.reload()  # the closed one was written straight to the database: no live event
    for name in ("Marco Bianchi", "Lucia Verdi"):
        page.get_by_label(f"Pick {name}").check()
    page.get_by_label("Run a macro…").select_option(label="Thanks")
    page.locator("#bulk-error", has_text="1 left as they were, still picked:").wait_for()
    assert "cannot send on whatsapp now" in page.locator("#bulk-error").inner_text()
    assert page.locator("#bulk-count").inner_text() == "1 picked"
    assert page.get_by_label("Pick Lucia Verdi").is_checked()
    assert page.get_by_label("Run a macro…").input_value() == ""
    wait_for(lambda: [m for m in emulator.sent if m["text"] == "Grazie a te Marco Bianchi!"])
    page.locator("#conversation-list button.conversation", has_text="Marco Bianchi").wait_for(
        state="detached"
    )  # resolved: out of the open list
    assert running.api.get(f"/api/v1/conversations/{closed}").json()["status"] == "open"
    page.get_by_label("Pick Lucia Verdi").uncheck()
    page.locator("#bulk-bar").wait_for(state="hidden")
    assert browser.errors == []


def test_an_agent_reads_the_shared_macros_and_writes_their_own_on_the_macros_page(
    sqlite_url: str, start_daemon: Callable[..., RunningDaemon], browser: Browser
) -> None:
    running = start_daemon(make_settings(sqlite_url))
    bob = agent_token(running, "bob", datetime.now(UTC))
    running.api.post("/api/v1/macros", json=THANKS)
    page = browser.page
    sign_in(page, running.url, "bob")
    page.locator("#live-status[data-state='live']").wait_for()
    page.get_by_role("link", name="Macros").click()
    page.locator("body[data-loaded='true']").wait_for()
    shared = page.locator("#shared-panel fieldset[data-macro]")
    assert shared.locator("legend").inner_text() == "Thanks, resolved"
    assert shared.get_attribute("disabled") == ""
    assert shared.get_by_label("Reply").is_disabled()
    assert shared.get_by_role("button").count() == 0  # nothing to save or delete
    assert page.get_by_role("button", name="+ shared macro").count() == 0
    mine = page.locator("#mine-panel")
    mine.get_by_role("button", name="+ macro of mine").click()
    card = mine.locator("fieldset[data-macro='new']")
    card.get_by_label("Name").fill("Thanks, resolved")  # the shared one's name: his own too
    card.get_by_label("Reply").fill("Ciao {name}, ci penso io.")
    card.get_by_label("the agent takes it").check()
    card.get_by_role("button", name="Save").click()
    mine.locator("fieldset[data-macro] .saved").first.wait_for()
    card = mine.locator("fieldset[data-macro]")
    assert card.get_by_label("Reply").is_enabled()
    stored = [m for m in running.api.get("/api/v1/macros", headers=bob).json() if m["personal"]]
    assert [(m["name"], m["reply"], m["take"]) for m in stored] == [
        ("Thanks, resolved", "Ciao {name}, ci penso io.", True)
    ]
    card.get_by_role("button", name="Delete this macro").click()
    mine.locator("fieldset[data-macro]").wait_for(state="detached")
    assert running.api.get("/api/v1/macros", headers=bob).json()[0]["personal"] is False
    assert browser.errors == []
