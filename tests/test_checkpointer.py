"""SQLite's WAL checkpoints run in the checkpointer's thread, not in the commits that fill
the WAL, and the WAL is still rewound while writers commit without pause."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import RunningDaemon, make_settings
from sqlalchemy import Engine, insert

from sportello.inbox import journal
from sportello.inbox.checkpointer import WalCheckpointer, checkpoint
from sportello.inbox.db import make_engine, migrate, write_lock
from sportello.inbox.models import Delivery
from sportello.inbox.write_lock import WriteLock

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
PAGE = 4096


def _deliveries(first: int, count: int, size: int) -> list[dict[str, object]]:
    return [
        journal.delivery_row("whatsapp", b"%d " % n + b"x" * size, NOW)
        for n in range(first, first + count)
    ]


def _wal_frames(engine: Engine) -> int:
    """Frames in the WAL (a PASSIVE checkpoint reports them; copying them changes nothing)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        return checkpoint(connection).frames


@pytest.mark.parametrize("autocheckpoint", [True, False])
def test_commits_checkpoint_only_when_asked_to(sqlite_url: str, autocheckpoint: bool) -> None:
    engine = make_engine(sqlite_url, autocheckpoint=autocheckpoint)
    migrate(engine)
    for first in range(0, 3000, 100):  # some 3,000 pages, in 30 commits
        with engine.begin() as connection:
            connection.execute(insert(Delivery), _deliveries(first, 100, PAGE))
    frames = _wal_frames(engine)
    engine.dispose()
    # SQLite's own checkpoints (every 1,000 pages) rewind the WAL; without them it keeps all.
    assert (frames < 1500) if autocheckpoint else (frames > 3000)


def _write_without_pause(engine: Engine, lock: WriteLock, commits: int) -> None:
    """Commit small batches back to back, as the journal writer does under load (handing
    over to the event loop between two)."""
    for first in range(0, 5 * commits, 5):
        with lock.urgent(), engine.begin() as connection:
            connection.execute(insert(Delivery), _deliveries(first, 5, 600))
        time.sleep(0)


def test_the_wal_is_rewound_while_writers_commit_without_pause(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url, autocheckpoint=False)
    migrate(engine)
    lock = write_lock(engine)
    checkpointer = WalCheckpointer(engine, lock, interval_s=0.001, rewind_frames=200)
    checkpointer.start()
    try:
        _write_without_pause(engine, lock, commits=4000)  # some 12,000 pages through the WAL
    finally:
        checkpointer.stop()
    database = engine.url.database
    assert database is not None
    wal_pages = Path(database + "-wal").stat().st_size // PAGE  # its longest
    engine.dispose()
    assert wal_pages < 2000


def test_the_daemon_checkpoints_its_sqlite_file_in_its_own_thread(
    start_daemon: Callable[..., RunningDaemon], sqlite_url: str
) -> None:
    running = start_daemon(make_settings(sqlite_url))
    daemon = running.daemon
    assert daemon.checkpointer is not None
    with daemon.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    assert any(thread.name == "wal-checkpointer" for thread in threading.enumerate())
    running.server.stop()
    assert not any(thread.name == "wal-checkpointer" for thread in threading.enumerate())
