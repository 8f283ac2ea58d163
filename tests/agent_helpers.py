"""Agents and the conversations they work on, for the tests of the desk's shared tools."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from conftest import RunningDaemon
from sqlalchemy import Engine

from sportello.connectors.base import InboundMessage, Person, Thread
from sportello.inbox import accounts
from sportello.inbox.db import session_scope
from sportello.inbox.ingest import ingest

if TYPE_CHECKING:
    from playwright.sync_api import Page


def telegram_conversation(engine: Engine, user: str, at: datetime, text: str = "Ciao") -> int:
    """Telegram user ``user`` writes: the id of their conversation."""
    person = Person(user, f"Customer {user}")
    event = InboundMessage("telegram", f"{user}:1", Thread(user), person, at, text=text)
    with session_scope(engine) as session:
        _, conversation = ingest(session, [event], now=at).new_messages[0]
        assert conversation.id is not None
        return conversation.id


def agent_token(running: RunningDaemon, name: str, at: datetime) -> dict[str, str]:
    """A new agent ``name``: the headers of their personal API token (as their inbox)."""
    with session_scope(running.daemon.engine) as session:
        user = accounts.create_user(session, name, f"{name}-password", "agent", at)
        secret, _ = accounts.create_api_token(session, user, "inbox", at)
    return {"Authorization": f"Bearer {secret}"}


def sign_in(page: Page, url: str, name: str) -> None:
    """Sign in to the web inbox at ``url`` as ``name`` (password ``<name>-password``)."""
    page.goto(f"{url}/login")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(f"{name}-password")
    page.get_by_role("button", name="Sign in").click()
