"""An internal note that names a colleague (``@bob``) waits among their mentions until they
open the conversation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from conftest import RunningDaemon, make_settings
from sqlalchemy import Engine

from sportello.connectors.base import InboundMessage, Person, Thread
from sportello.inbox import accounts
from sportello.inbox.clock import FrozenClock
from sportello.inbox.db import session_scope
from sportello.inbox.ingest import ingest

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def _conversation(engine: Engine, user: str) -> int:
    person = Person(user, f"Customer {user}")
    event = InboundMessage("telegram", f"{user}:1", Thread(user), person, T0, text="Rimborso?")
    with session_scope(engine) as session:
        _, conversation = ingest(session, [event], now=T0).new_messages[0]
        assert conversation.id is not None
        return conversation.id


def _token(running: RunningDaemon, name: str) -> dict[str, str]:
    with session_scope(running.daemon.engine) as session:
        user = accounts.create_user(session, name, f"{name}-password", "agent", T0)
        secret, _ = accounts.create_api_token(session, user, "inbox", T0)
    return {"Authorization": f"Bearer {secret}"}


def test_a_note_naming_a_colleague_waits_among_their_mentions_until_read(
    database_url: str, start_daemon: Callable[..., RunningDaemon]
) -> None:
    running = start_daemon(make_settings(database_url), clock=FrozenClock(T0))
    api, engine = running.api, running.daemon.engine
    first, second = _conversation(engine, "7001"), _conversation(engine, "7002")
    ada, bob, cy = _token(running, "ada"), _token(running, "bob"), _token(running, "cy.rossi")

    def note(who: dict[str, str], conversation: int, text: str) -> None:
        path = f"/api/v1/conversations/{conversation}/notes"
        assert api.post(path, json={"text": text}, headers=who).status_code == 201

    def mentions(who: dict[str, str], **params: str) -> list[dict[str, object]]:
        answer = api.get("/api/v1/me/mentions", params=params, headers=who)
        assert answer.status_code == 200
        return answer.json()  # type: ignore[no-any-return]

    # Not herself, not a name that is no user, not an e-mail address; @BOB is bob, and a
    # full stop after a name that has dots in it is not part of it.
    note(ada, first, "@BOB puoi controllare? Scrivi a bob@example.com, cc @nessuno @ada")
    note(ada, second, "Anche qui, @bob. E tu, @cy.rossi.")
    note(bob, second, "Fatto, @ada")
    assert [(m["conversation_id"], m["author"]) for m in mentions(bob)] == [
        (second, "ada"),
        (first, "ada"),
    ]
    assert str(mentions(bob)[1]["text"]).startswith("@BOB puoi controllare?")
    assert [m["conversation_id"] for m in mentions(cy)] == [second]
    assert [m["author"] for m in mentions(ada)] == ["bob"]

    # bob opens the first conversation: its mention is read, the other still waits.
    read = api.post("/api/v1/me/mentions/read", json={"conversation_id": first}, headers=bob)
    assert read.json() == {"read": 1}
    assert [m["conversation_id"] for m in mentions(bob, unread="true")] == [second]
    assert [m["read_at"] is None for m in mentions(bob)] == [True, False]
    assert api.post("/api/v1/me/mentions/read", json={}, headers=bob).json() == {"read": 1}
    assert mentions(bob, unread="true") == []
    assert api.get("/api/v1/me/mentions").status_code == 403  # the configured token is no user
