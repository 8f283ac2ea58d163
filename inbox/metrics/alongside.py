"""A report's two halves read side by side: the time figures in one snapshot, the SQL
aggregates on a second connection at the same time."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from sportello.inbox.db import read_snapshot

T = TypeVar("T")
U = TypeVar("U")


def read_alongside(
    session: Session,
    in_snapshot: Callable[[Connection], T],
    aggregates: Callable[[Session], U],
) -> tuple[T, U]:
    """``in_snapshot`` on one snapshot while ``aggregates`` runs in a session of its own,
    so the report reads what is committed; in ``session``, one after the other, on an
    engine whose connections do not share one database (in-memory SQLite)."""
    engine = session.get_bind()
    if not (isinstance(engine, Engine) and _shared_database(engine)):
        return in_snapshot(session.connection()), aggregates(session)
    with ThreadPoolExecutor(max_workers=1) as pool:
        aside = pool.submit(_in_own_session, engine, aggregates)
        with read_snapshot(engine) as connection:
            read = in_snapshot(connection)
        return read, aside.result()


def _in_own_session(engine: Engine, aggregates: Callable[[Session], U]) -> U:
    with Session(engine) as session:
        return aggregates(session)


def _shared_database(engine: Engine) -> bool:
    """Whether a second connection sees the same data (not so for in-memory SQLite)."""
    return engine.url.get_backend_name() != "sqlite" or engine.url.database not in (
        None,
        "",
        ":memory:",
    )
