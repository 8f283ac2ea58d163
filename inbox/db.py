"""The database engine, its SQLite tuning, and schema migrations on start."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session

from sportello.inbox import (  # noqa: F401  (they register their flush listeners)
    conversation_updates,
    message_ids,
    numbered_rows,
)
from sportello.inbox.write_lock import WriteLock

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")


def make_engine(
    url: str, *, pool_size: int = 10, echo: bool = False, autocheckpoint: bool = True
) -> Engine:
    """An engine for ``url``; SQLite files get WAL, a busy timeout and foreign keys.

    ``autocheckpoint=False`` leaves the WAL's checkpoints to a
    :class:`~sportello.inbox.checkpointer.WalCheckpointer` instead of the commits that fill it.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        if not autocheckpoint:
            event.listen(engine, "connect", _no_autocheckpoint)
        return engine
    return create_engine(
        url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode survives a killed process; only a power cut can lose the last commits.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _no_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")


def is_sqlite_file(engine: Engine) -> bool:
    """Whether ``engine`` is a SQLite file (which has a WAL), not memory nor a server."""
    return engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:")


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def write_lock(engine: Engine) -> WriteLock:
    """The in-process lock of the hot writers of a SQLite file (the journal writer and the
    worker); on PostgreSQL one that does nothing."""
    return WriteLock(enabled=engine.dialect.name == "sqlite")


@contextmanager
def read_snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection whose reads all see one committed state of the database.

    pysqlite opens a transaction only before a write, so a SQLite reader would see each
    statement's own latest state: the snapshot is begun by hand.
    """
    if engine.dialect.name == "postgresql":
        isolated = engine.connect().execution_options(isolation_level="REPEATABLE READ")
        with isolated as connection, connection.begin():
            yield connection
        return
    with engine.connect() as connection:
        connection.exec_driver_sql("BEGIN")
        try:
            yield connection
        finally:
            connection.rollback()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
