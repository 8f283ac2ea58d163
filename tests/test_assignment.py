"""Automatic assignment: open conversations nobody has taken go to available agents, the
least busy first, never past the cap; agents say they are available through the API."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from automation_helpers import migrated
from conftest import RunningDaemon, make_settings, telegram_channel, wait_for
from customer_helpers import telegram_says
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from sportello import scheduler
from sportello.config.settings import AssignmentSettings
from sportello.connectors.base import Channel, InboundMessage, Person, Thread
from sportello.connectors.emulators.server import BackgroundServer
from sportello.connectors.emulators.telegram import TelegramEmulator
from sportello.inbox import accounts, assignment
from sportello.inbox.assignment import ACTOR, PRESENT_S, assign_waiting
from sportello.inbox.conversations import set_status
from sportello.inbox.db import session_scope
from sportello.inbox.ingest import ingest
from sportello.inbox.models import Conversation, ConversationEvent
from sportello.inbox.users import User

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
BALANCED = AssignmentSettings(mode="balanced", max_open_per_agent=2)


def _agents(engine: Engine, *available: str, away: tuple[str, ...] = ()) -> None:
    """Users; the ``available`` ones say so and have their inbox open."""
    with session_scope(engine) as session:
        for name in (*available, *away):
            user = accounts.create_user(session, name, f"{name}-password", "agent", NOW)
            user.available = name in available
            user.seen_at = NOW - timedelta(seconds=30)


def _conversation(
    engine: Engine,
    n: int,
    *,
    priority: int = 0,
    assignee: str | None = None,
    language: str | None = None,
    channel: Channel = "telegram",
) -> int:
    """Customer ``n`` writes (on Telegram unless told): an open conversation (its priority
    set after)."""
    event = InboundMessage(
        channel,
        f"{7000 + n}:1",
        Thread(str(7000 + n)),
        Person(str(7000 + n), display_name=f"Customer {n}", language=language),
        NOW - timedelta(minutes=n),
        text="Ciao",
    )
    with session_scope(engine) as session:
        conversation = ingest(session, [event], now=NOW).new_messages[0][1]
        conversation.priority, conversation.assignee = priority, assignee
        assert conversation.id is not None
        return conversation.id


def _assignees(engine: Engine) -> dict[int, str | None]:
    with Session(engine) as session:
        return {c.id: c.assignee for c in session.exec(select(Conversation)) if c.id is not None}


def _run(engine: Engine, rule: AssignmentSettings = BALANCED) -> list[tuple[int, str]]:
    with session_scope(engine) as session:
        return [(a.conversation_id, a.assignee) for a in assign_waiting(session, NOW, rule)]


def test_the_least_busy_available_agent_gets_the_most_urgent_first_up_to_the_cap(
    database_url: str,
) -> None:
    engine = migrated(database_url)
    _agents(engine, "ada", "bob", away=("cy",))
    bobs = _conversation(engine, 0, assignee="bob")
    urgent, high, normal, newer, older = (
        _conversation(engine, n, priority=p) for n, p in ((1, 3), (2, 2), (3, 1), (4, 0), (5, 0))
    )

    # ada has none, bob one: ada first; then a tie at one each goes to bob, who has not had
    # one from the rule yet; then ada. Both are at the cap of two: the rest wait.
    assert _run(engine) == [(urgent, "ada"), (high, "bob"), (normal, "ada")]
    shown = _assignees(engine)
    assert shown[bobs] == "bob" and shown[newer] is None and shown[older] is None
    with Session(engine) as session:
        events = session.exec(
            select(ConversationEvent).where(col(ConversationEvent.kind) == "assigned")
        ).all()
        assert {(e.conversation_id, e.actor, e.data["assignee"]) for e in events} == {
            (urgent, ACTOR, "ada"),
            (high, ACTOR, "bob"),
            (normal, ACTOR, "ada"),
        }

    assert _run(engine) == []  # nobody is free: nothing moves
    with session_scope(engine) as session:
        conversation = session.get(Conversation, urgent)
        assert conversation is not None
        set_status(session, conversation, "resolved", NOW, "ada")
    # A resolved one frees a place: the customer waiting longest of the rest comes first.
    assert _run(engine) == [(older, "ada")]


def test_nothing_is_assigned_when_the_rule_is_off_or_nobody_is_available(
    database_url: str,
) -> None:
    engine = migrated(database_url)
    _agents(engine, away=("ada",))
    waiting = _conversation(engine, 1)
    assert _run(engine) == []  # ada is not available
    with session_scope(engine) as session:
        ada = session.exec(select(User).where(User.name == "ada")).one()
        assert ada.id is not None
        accounts.set_available(session, ada.id, True)
    assert _run(engine, AssignmentSettings(mode="off")) == []
    assert _run(engine, AssignmentSettings(mode="balanced")) == [(waiting, "ada")]  # no cap


def test_an_agent_whose_inbox_was_closed_a_while_ago_gets_nothing_new(
    database_url: str,
) -> None:
    engine = migrated(database_url)
    _agents(engine, "ada", "bob")
    with session_scope(engine) as session:
        ada = session.exec(select(User).where(User.name == "ada")).one()
        ada.seen_at = NOW - timedelta(seconds=PRESENT_S + 1)  # her laptop closed
    waiting = _conversation(engine, 1)
    assert _run(engine) == [(waiting, "bob")]


def test_a_customer_goes_to_an_agent_who_speaks_their_language_first(
    database_url: str,
) -> None:
    engine = migrated(database_url)
    _agents(engine, "ada", "bob", "cy")
    with session_scope(engine) as session:
        for user in session.exec(select(User)):
            user.languages = {"ada": ["en"], "bob": ["it", "en"], "cy": []}[user.name]
    italian = _conversation(engine, 1, priority=3, language="it-IT")
    english = _conversation(engine, 2, priority=2, language="en")
    unknown = _conversation(engine, 3, priority=1)
    also_italian = _conversation(engine, 4, language="it")
    # Up to one each: bob is the one who speaks Italian; the English customer goes to ada
    # (bob, who speaks it too, is full); the customer of no known language to cy, the one
    # left. With a second place each, all three at one, the other Italian customer goes to
    # bob, not to the first in the name order.
    assert _run(engine, AssignmentSettings(mode="balanced", max_open_per_agent=1)) == [
        (italian, "bob"),
        (english, "ada"),
        (unknown, "cy"),
    ]
    assert _run(engine, AssignmentSettings(mode="balanced", max_open_per_agent=2)) == [
        (also_italian, "bob")
    ]


def test_an_agent_who_handles_some_channels_gets_only_their_conversations(
    database_url: str,
) -> None:
    engine = migrated(database_url)
    _agents(engine, "ada", "bob")
    with session_scope(engine) as session:
        for user in session.exec(select(User)):
            accounts.set_channels(session, user, {"ada": ["whatsapp"], "bob": []}[user.name])
    telegram = _conversation(engine, 1, priority=3)
    whatsapp = _conversation(engine, 2, channel="whatsapp")
    x = _conversation(engine, 3, channel="x")
    # ada would come first by name, but she handles only WhatsApp: the urgent Telegram
    # customer goes to bob, who handles every channel; the X customer waits for a place.
    one_each = AssignmentSettings(mode="balanced", max_open_per_agent=1)
    assert _run(engine, one_each) == [(telegram, "bob"), (whatsapp, "ada")]
    assert _assignees(engine)[x] is None


def test_conversations_no_free_agent_handles_do_not_keep_the_others_waiting(
    database_url: str,
) -> None:
    """ada, the only one present, handles WhatsApp: a run reads one conversation (her one
    place), so it must not be the more urgent Telegram one she cannot take."""
    engine = migrated(database_url)
    _agents(engine, "ada")
    with session_scope(engine) as session:
        accounts.set_channels(session, session.exec(select(User)).one(), ["whatsapp"])
    telegram = _conversation(engine, 1, priority=3)
    whatsapp = _conversation(engine, 2, channel="whatsapp")
    one = AssignmentSettings(mode="balanced", max_open_per_agent=1)
    assert _run(engine, one) == [(whatsapp, "ada")]
    assert _assignees(engine)[telegram] is None


def test_a_conversation_taken_by_hand_meanwhile_stays_with_its_agent(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run read the conversation unassigned; an agent took it before the run wrote."""
    engine = migrated(sqlite_url)
    _agents(engine, "ada")
    waiting = _conversation(engine, 1)
    read = assignment.inbox_page

    def read_then_taken(*args: object, **kwargs: object) -> list[Conversation]:
        found = read(*args, **kwargs)  # type: ignore[arg-type]
        with session_scope(engine) as other:
            conversation = other.get(Conversation, waiting)
            assert conversation is not None
            conversation.assignee = "zoe"
        return found

    monkeypatch.setattr(assignment, "inbox_page", read_then_taken)
    assert _run(engine) == []
    assert _assignees(engine)[waiting] == "zoe"


@contextmanager
def _open_inbox(running: RunningDaemon, headers: dict[str, str]) -> Iterator[None]:
    """The agent's inbox open: its live stream connected, closed at the end (a task on a
    loop of its own, so that closing it does not wait for the next ping)."""
    loop = asyncio.new_event_loop()
    hello = threading.Event()

    async def listen() -> None:
        client = httpx.AsyncClient(base_url=running.url, headers=headers)
        async with client, client.stream("GET", "/api/v1/events", timeout=None) as stream:
            async for line in stream.aiter_lines():
                if line == "event: hello":
                    hello.set()

    def run() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(task)

    task = loop.create_task(listen())
    reader = threading.Thread(target=run, daemon=True)
    reader.start()
    assert hello.wait(10)
    try:
        yield
    finally:
        loop.call_soon_threadsafe(task.cancel)
        reader.join(5)
        loop.close()


def _personal_token(running: RunningDaemon, name: str, role: str = "agent") -> dict[str, str]:
    with session_scope(running.daemon.engine) as session:
        user = accounts.create_user(session, name, f"{name}-password", role, NOW)
        secret, _ = accounts.create_api_token(session, user, "inbox", NOW)
    return {"Authorization": f"Bearer {secret}"}


def test_an_available_agent_gets_a_new_telegram_conversation_within_seconds(
    database_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(scheduler, "ASSIGN_INTERVAL_S", 0.2)
    _, server = telegram_emulator
    settings = make_settings(
        database_url,
        channels=telegram_channel(server.url),
        assignment={"mode": "balanced", "max_open_per_agent": 5},
    )
    running = start_daemon(settings)
    ada = _personal_token(running, "ada")
    assert running.api.get("/api/v1/me", headers=ada).json()["available"] is False
    answer = running.api.put("/api/v1/me/availability", json={"available": True}, headers=ada)
    assert answer.status_code == 200 and answer.json()["available"] is True

    message = telegram_says(running, 1, text="Il mio ordine non è arrivato")
    conversation = f"/api/v1/conversations/{message['conversation_id']}"
    time.sleep(1.0)  # five runs of the job: ada's inbox is not open, she is not present
    assert running.api.get(conversation).json()["assignee"] is None
    with _open_inbox(running, ada):
        assert wait_for(lambda: running.api.get(conversation).json()["assignee"]) == "ada"
    (listed,) = running.api.get("/api/v1/users").json()
    assert listed["available"] is True and listed["open_conversations"] == 1

    away = running.api.put("/api/v1/me/availability", json={"available": False}, headers=ada)
    assert away.json()["available"] is False
    with session_scope(running.daemon.engine) as session:
        assert not session.exec(select(User).where(col(User.available))).all()


def test_the_rule_is_seeded_from_the_file_and_only_admins_change_it(
    sqlite_url: str, start_daemon: Callable[..., RunningDaemon]
) -> None:
    running = start_daemon(make_settings(sqlite_url, assignment={"mode": "balanced"}))
    rule = running.api.get("/api/v1/settings/assignment").json()
    assert rule == {"mode": "balanced", "max_open_per_agent": 0}
    agent = _personal_token(running, "bob")
    off = {"mode": "off", "max_open_per_agent": 3}
    assert (
        running.api.put("/api/v1/settings/assignment", json=off, headers=agent).status_code == 403
    )
    assert running.api.put("/api/v1/settings/assignment", json=off).json() == off
    assert running.api.get("/api/v1/settings/assignment", headers=agent).json() == off
    bad = running.api.put("/api/v1/settings/assignment", json={"mode": "random"})
    assert bad.status_code == 422
    (bob,) = running.api.get("/api/v1/users").json()
    assert bob["languages"] == []
    speaks = f"/api/v1/users/{bob['id']}"
    answer = running.api.patch(speaks, json={"languages": ["it", "en", "it"]})
    assert answer.json()["languages"] == ["it", "en"]
    assert running.api.patch(speaks, json={"languages": ["ita"]}).status_code == 422
    # Each field changes alone; the others stay.
    handles = running.api.patch(speaks, json={"channels": ["x", "whatsapp", "x"]}).json()
    assert handles["channels"] == ["whatsapp", "x"] and handles["languages"] == ["it", "en"]
    assert running.api.patch(speaks, json={"channels": ["email"]}).status_code == 422
    assert running.api.patch(speaks, json={"channels": []}).json()["channels"] == []
    assert running.api.patch(speaks, json={"available": True}).json()["available"] is True
    gone = running.api.patch(speaks, json={"available": False}).json()
    assert gone["available"] is False and gone["languages"] == ["it", "en"]
    assert running.api.patch(speaks, json={"languages": []}, headers=agent).status_code == 403
    assert running.api.patch("/api/v1/users/999", json={"languages": []}).status_code == 404
    # The configured token is not a user: it has no availability to set.
    assert running.api.get("/api/v1/me").json()["available"] is None
    refused = running.api.put("/api/v1/me/availability", json={"available": True})
    assert refused.status_code == 403
