"""SQLite's WAL checkpoints, in a thread of their own.

Left to itself, SQLite checkpoints inside the commit that takes the WAL past 1,000 pages:
that commit copies the pages into the database file and syncs it before it returns. Under
load this took 10-15 ms, and a webhook's 200 waited for it (the journal writer's commits
were the ones that filled the WAL). The daemon's connections switch automatic checkpoints
off (:func:`sportello.inbox.db.make_engine`) and this thread runs them beside the writers:
a PASSIVE checkpoint never blocks a writer.

A checkpoint running beside the writers rarely catches up with them, though, and SQLite
rewinds the WAL only once it has: under steady load it would grow without end. So when it
holds more than ``rewind_frames`` frames, the checkpointer copies what is left while holding
the write lock (after the webhooks waiting for it). Most of it was copied unlocked just
before, so the writers wait for a short copy and one sync, every second or two under full
load.
"""

from __future__ import annotations

import logging
import threading
from typing import NamedTuple

from sqlalchemy import Connection, Engine

from sportello.inbox.write_lock import WriteLock

log = logging.getLogger(__name__)

INTERVAL_S = 0.1
REWIND_FRAMES = 16_000  # 64 MiB of 4 KiB pages


class Checkpoint(NamedTuple):
    """What ``PRAGMA wal_checkpoint`` reports."""

    busy: bool  # it could not run at all
    frames: int  # frames in the WAL
    copied: int  # of which now in the database file


def checkpoint(connection: Connection) -> Checkpoint:
    """One PASSIVE checkpoint: copy what no reader still needs, wait for nobody."""
    busy, frames, copied = connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
    return Checkpoint(bool(busy), frames, copied)


class WalCheckpointer:
    """Checkpoints a SQLite file's WAL every ``interval_s`` until stopped."""

    def __init__(
        self,
        engine: Engine,
        write_lock: WriteLock,
        *,
        interval_s: float = INTERVAL_S,
        rewind_frames: int = REWIND_FRAMES,
    ) -> None:
        self.engine = engine
        self.write_lock = write_lock
        self.interval_s = interval_s
        self.rewind_frames = rewind_frames
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="wal-checkpointer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the checkpoint under way, if any."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        autocommit = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        with autocommit as connection:  # a checkpoint cannot run inside a transaction
            while not self._stop.wait(self.interval_s):
                try:
                    self.round(connection)
                except Exception:  # a locked or vanished file: the next round tries again
                    log.exception("the WAL checkpoint failed")

    def round(self, connection: Connection) -> None:
        """Copy what it can beside the writers; rewind the WAL if it has grown too long."""
        if checkpoint(connection).frames >= self.rewind_frames:
            # Copy the commits made during that copy with the writers held off, so that
            # the next one rewinds; urgent as a webhook's commit, or the worker starves it.
            with self.write_lock.urgent():
                checkpoint(connection)
