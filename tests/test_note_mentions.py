"""An internal note that names a colleague (``@bob``) waits among their mentions until they
open the conversation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from agent_helpers import agent_token, telegram_conversation
from conftest import RunningDaemon, make_settings

from sportello.inbox.clock import FrozenClock

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def test_a_note_naming_a_colleague_waits_among_their_mentions_until_read(
    database_url: str, start_daemon: Callable[..., RunningDaemon]
) -> None:
    running = start_daemon(make_settings(database_url), clock=FrozenClock(T0))
    api, engine = running.api, running.daemon.engine
    first, second = (
        telegram_conversation(engine, "7001", T0),
        telegram_conversation(engine, "7002", T0),
    )
    ada, bob, cy = (
        agent_token(running, "ada", T0),
        agent_token(running, "bob", T0),
        agent_token(running, "cy.rossi", T0),
    )

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
