"""Agents see who else has a conversation open and who is typing a reply in it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from agent_helpers import agent_token, telegram_conversation
from conftest import RunningDaemon, make_settings

from sportello.inbox.clock import FrozenClock
from sportello.inbox.viewers import TYPING_S, VIEWING_S

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def test_agents_see_each_other_in_a_conversation_until_they_leave_or_fade(
    database_url: str, start_daemon: Callable[..., RunningDaemon]
) -> None:
    clock = FrozenClock(T0)
    running = start_daemon(make_settings(database_url), clock=clock)
    api, engine = running.api, running.daemon.engine
    first, second = (
        telegram_conversation(engine, "7001", T0),
        telegram_conversation(engine, "7002", T0),
    )
    ada, bob = agent_token(running, "ada", T0), agent_token(running, "bob", T0)

    def view(who: dict[str, str], conversation: int | None, typing: bool = False) -> None:
        body = {"conversation_id": conversation, "typing": typing}
        assert api.put("/api/v1/me/viewing", json=body, headers=who).status_code == 204

    def seen_by(who: dict[str, str], conversation: int) -> list[dict[str, object]]:
        answer = api.get(f"/api/v1/conversations/{conversation}/viewers", headers=who)
        assert answer.status_code == 200
        return answer.json()  # type: ignore[no-any-return]

    view(ada, first)
    view(bob, first, typing=True)
    assert seen_by(ada, first) == [{"name": "bob", "typing": True}]  # not herself
    assert seen_by(bob, first) == [{"name": "ada", "typing": False}]
    clock.advance(TYPING_S + 1)
    assert seen_by(ada, first) == [{"name": "bob", "typing": False}]  # he stopped typing
    view(bob, second)
    assert seen_by(ada, first) == [] and seen_by(ada, second) == [{"name": "bob", "typing": False}]
    clock.advance(VIEWING_S + 1)  # bob's tab closed: nothing said for a while
    assert seen_by(ada, second) == []
    view(ada, None)
    assert seen_by(bob, first) == []

    assert (
        api.put("/api/v1/me/viewing", json={"conversation_id": 999}, headers=ada).status_code == 404
    )
    assert api.get("/api/v1/conversations/999/viewers", headers=ada).status_code == 404
    # The configured token is no user: nobody to show.
    assert api.put("/api/v1/me/viewing", json={"conversation_id": first}).status_code == 403
