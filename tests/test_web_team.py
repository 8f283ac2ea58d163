"""The team in the web inbox (real headless Chromium): handing a conversation to a
colleague, the list filtered by one (or by nobody's), several assigned at once, and @names
completed in a note; the agent a colleague hands a conversation to hears of it live."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from agent_helpers import sign_in
from conftest import Browser, RunningDaemon, make_settings, wait_for

from sportello.connectors.base import InboundMessage, Person, Thread
from sportello.inbox import accounts
from sportello.inbox.db import session_scope
from sportello.inbox.ingest import ingest


def _customers(running: RunningDaemon, *names: str) -> dict[str, int]:
    """Each of ``names`` writes on Telegram: their conversations' ids."""
    now = datetime.now(UTC)
    ids = {}
    with session_scope(running.daemon.engine) as session:
        for n, name in enumerate(names):
            user = str(5552000 + n)
            event = InboundMessage(
                "telegram", f"{user}:1", Thread(user), Person(user, display_name=name),
                now - timedelta(minutes=n), text=f"Sono {name}",
            )  # fmt: skip
            (_, conversation), *_ = ingest(session, [event], now=event.sent_at).new_messages
            assert conversation.id is not None
            ids[name] = conversation.id
    return ids


def _conversation(running: RunningDaemon, conversation_id: int) -> dict[str, Any]:
    return running.api.get(f"/api/v1/conversations/{conversation_id}").json()  # type: ignore[no-any-return]


def test_hand_over_filter_assign_several_and_name_a_colleague(
    sqlite_url: str, start_daemon: Callable[..., RunningDaemon], browser: Browser
) -> None:
    running = start_daemon(make_settings(sqlite_url))
    with session_scope(running.daemon.engine) as session:
        for name, role in (("ada", "admin"), ("bob", "agent"), ("carla", "agent")):
            user = accounts.create_user(session, name, f"{name}-password", role, datetime.now(UTC))
        carla_token, _ = accounts.create_api_token(session, user, "inbox", datetime.now(UTC))
    ids = _customers(running, "Giulia Rossi", "Marco Neri", "Anna Bianchi")

    page = browser.page
    sign_in(page, running.url, "bob")
    page.locator("#conversation-list button.conversation", has_text="Giulia Rossi").click()
    page.locator("#messages li.message", has_text="Sono Giulia").wait_for()

    # "a" takes it, again lets it go
    page.keyboard.press("a")
    page.locator("#conv-assignee", has_text="@bob").wait_for()
    page.keyboard.press("a")
    page.locator("#conv-assignee", has_text="unassigned").wait_for()
    # hand Giulia's to carla ("h" reaches the menu): it names everyone, with how much
    # each has open
    page.keyboard.press("h")
    assert page.evaluate("document.activeElement.id") == "conv-hand"
    hand = page.get_by_label("Hand over to…")
    options = hand.locator("option").all_inner_texts()
    assert options == ["Hand over to…", "ada (0 open)", "bob (0 open)", "carla (0 open)"]
    hand.select_option("carla")
    page.locator("#conv-assignee", has_text="@carla").wait_for()
    assert _conversation(running, ids["Giulia Rossi"])["assignee"] == "carla"
    wait_for(lambda: "carla (1 open)" in hand.locator("option").all_inner_texts())
    assert hand.input_value() == ""  # back to its title, ready for the next hand-over

    # the list by colleague
    page.locator("#filter-assignee").select_option("carla")
    page.locator("#conversation-list button.conversation", has_text="Marco Neri").wait_for(
        state="detached"
    )
    names = page.locator("#conversation-list button.conversation .name").all_inner_texts()
    assert [n.rstrip(" •") for n in names] == ["Giulia Rossi"]
    page.locator("#filter-assignee").select_option(label="Unassigned")
    page.locator("#conversation-list button.conversation", has_text="Giulia Rossi").wait_for(
        state="detached"
    )
    names = page.locator("#conversation-list button.conversation .name").all_inner_texts()
    assert sorted(n.rstrip(" •") for n in names) == ["Anna Bianchi", "Marco Neri"]
    nobodys = running.api.get("/api/v1/conversations", params={"unassigned": "true"}).json()
    assert {c["id"] for c in nobodys["items"]} == {ids["Marco Neri"], ids["Anna Bianchi"]}
    both = {"unassigned": "true", "assignee": "carla"}
    assert running.api.get("/api/v1/conversations", params=both).status_code == 422
    page.locator("#filter-assignee").select_option("")

    # Marco's and Anna's to ada at once
    page.get_by_label("Pick Marco Neri").check()
    page.get_by_label("Pick Anna Bianchi").check()
    page.get_by_role("toolbar", name="Bulk actions").get_by_label("Assign to…").select_option("ada")
    wait_for(
        lambda: (
            _conversation(running, ids["Marco Neri"])["assignee"]
            == _conversation(running, ids["Anna Bianchi"])["assignee"]
            == "ada"
        )
    )

    # a note naming carla, her name completed: "@" offers the others, not bob himself
    page.get_by_role("tab", name="Internal note").click()  # the box has the focus
    page.keyboard.type("Chiedo a @")
    suggestions = page.locator("#mention-suggest li")
    suggestions.first.wait_for()
    assert suggestions.all_inner_texts() == ["@ada", "@carla"]
    page.keyboard.type("C")  # any case
    wait_for(lambda: suggestions.all_inner_texts() == ["@carla"])
    page.keyboard.press("Enter")  # takes the name, does not start a new line
    assert page.input_value("#reply-text") == "Chiedo a @carla "
    assert page.locator("#mention-suggest").is_hidden()
    page.keyboard.type("del reso, @")
    suggestions.first.wait_for()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Tab")
    assert page.input_value("#reply-text") == "Chiedo a @carla del reso, @carla "
    page.keyboard.type("grazie @x")  # nobody: nothing offered, Enter stays Enter
    assert page.locator("#mention-suggest").is_hidden()
    page.keyboard.press("Control+Enter")
    page.locator("#messages .note", has_text="Chiedo a @carla").wait_for()
    mentions = running.api.get(
        "/api/v1/me/mentions", headers={"Authorization": f"Bearer {carla_token}"}
    ).json()
    assert [m["conversation_id"] for m in mentions] == [ids["Giulia Rossi"]]

    # in a reply to the customer, "@" is only a character
    page.keyboard.press("Escape")
    page.keyboard.press("r")
    page.keyboard.type("Scrivi a @")
    page.wait_for_timeout(300)  # what would have shown by now
    assert page.locator("#mention-suggest").is_hidden()

    # a colleague hands bob a conversation: he hears of it at once
    running.api.patch(f"/api/v1/conversations/{ids['Anna Bianchi']}", json={"assignee": "bob"})
    note = page.locator("#assigned-note")
    note.wait_for()
    assert note.inner_text() == "New for you: 1"
    assert browser.errors == []
