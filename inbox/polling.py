"""One poll of a connector: fetch, journal and move the cursor in one transaction."""

from __future__ import annotations

import asyncio
import logging
from typing import NamedTuple

from sqlalchemy import Engine
from sqlmodel import Session

from sportello.connectors.base import Connector
from sportello.inbox import journal
from sportello.inbox.clock import Clock
from sportello.inbox.db import session_scope
from sportello.inbox.models import ChannelCursor

log = logging.getLogger(__name__)


def read_cursor(session: Session, name: str) -> str | None:
    row = session.get(ChannelCursor, name)
    return row.value if row is not None else None


def write_cursor(session: Session, name: str, value: str, clock: Clock) -> None:
    row = session.get(ChannelCursor, name)
    if row is None:
        session.add(ChannelCursor(name=name, value=value, updated_at=clock.now()))
    else:
        row.value = value
        row.updated_at = clock.now()


class Polled(NamedTuple):
    """How many new deliveries one poll journaled, and how long the platform asks us to wait."""

    added: int
    wait_s: float | None = None


async def poll_once(engine: Engine, connector: Connector, clock: Clock) -> Polled:
    """Poll ``connector`` once, journaling what it fetched and moving its cursor."""
    name = f"{connector.name}:updates"

    def current() -> str | None:
        with session_scope(engine) as session:
            return read_cursor(session, name)

    cursor = await asyncio.to_thread(current)
    result = await connector.poll(cursor)

    def store() -> int:
        with session_scope(engine) as session:
            added = journal.append_many(
                session,
                channel=connector.name,
                bodies=[(body, connector.dedup_key(body)) for body in result.bodies],
                received_at=clock.now(),
            )
            if result.cursor is not None and result.cursor != cursor:
                write_cursor(session, name, result.cursor, clock)
            return added

    added = await asyncio.to_thread(store)
    if added:
        log.info("%s poll journaled %d deliveries", connector.name, added)
    return Polled(added, result.wait_s)
