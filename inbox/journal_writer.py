"""Group commit for the journal: every webhook waits for its own durable commit, and the
deliveries that arrive while one commit is under way share the next one.

One commit (one fsync on SQLite, one round trip on PostgreSQL) per batch instead of per
request is what lets a single process accept thousands of deliveries per second. The writer
keeps one connection and one thread of its own: under load many batches are small, and taking
a connection from the pool for each (with its liveness check, a round trip on PostgreSQL)
cost twice the commit itself; nor does a commit queue behind other work in the shared
threads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from sportello.inbox import journal
from sportello.inbox.models import Delivery
from sportello.inbox.write_lock import WriteLock

log = logging.getLogger(__name__)

MAX_BATCH = 500


def _future() -> asyncio.Future[None]:
    return asyncio.get_running_loop().create_future()


@dataclass
class _Pending:
    row: dict[str, Any]
    done: asyncio.Future[None] = field(default_factory=_future)


class JournalWriter:
    """Commits raw deliveries in batches; ``append`` returns once its delivery is durable."""

    def __init__(self, engine: Engine, write_lock: WriteLock) -> None:
        self.engine = engine
        self.write_lock = write_lock
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        # A delivery seen before (same channel and key) is skipped.
        self._statement = dialect.insert(Delivery.__table__).on_conflict_do_nothing()  # type: ignore[attr-defined]
        self._queue: asyncio.Queue[_Pending | None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._connection: Connection | None = None  # used only in ``_thread``

    def start(self) -> None:
        self._queue = asyncio.Queue()
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="journal-writer")
        self._task = asyncio.create_task(self._run(), name="journal-writer")

    async def stop(self) -> None:
        """Commit what is queued, then stop."""
        if self._queue is None or self._task is None or self._thread is None:
            return
        await self._queue.put(None)
        await self._task
        await asyncio.get_running_loop().run_in_executor(self._thread, self._disconnect)
        self._thread.shutdown()
        self._queue = self._task = self._thread = None

    async def append(
        self,
        *,
        channel: str,
        body: bytes,
        received_at: datetime,
        headers: Mapping[str, str] | None = None,
        platform_key: str | None = None,
    ) -> None:
        """Journal one delivery; raises if it could not be committed (nothing partial)."""
        if self._queue is None:
            raise RuntimeError("the journal writer is not running")
        pending = _Pending(journal.delivery_row(channel, body, received_at, headers, platform_key))
        await self._queue.put(pending)
        await pending.done

    async def _run(self) -> None:
        assert self._queue is not None
        stopping = False
        while not stopping:
            first = await self._queue.get()
            batch: list[_Pending] = []
            if first is None:
                stopping = True
            else:
                batch.append(first)
            while not self._queue.empty() and len(batch) < MAX_BATCH:
                item = self._queue.get_nowait()
                if item is None:
                    stopping = True
                else:
                    batch.append(item)
            if batch:
                await self._commit(batch)

    async def _commit(self, batch: list[_Pending]) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._thread, self._insert, [p.row for p in batch])
        except Exception as exc:
            log.exception("journaling %d deliveries failed", len(batch))
            for pending in batch:
                if not pending.done.done():
                    pending.done.set_exception(exc)
            return
        for pending in batch:
            if not pending.done.done():
                pending.done.set_result(None)

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        """One transaction; if the server had dropped the connection, once more on a new one
        (each row's dedup key keeps a delivery from being stored twice)."""
        with self.write_lock.urgent():
            try:
                self._insert_once(rows)
            except DBAPIError as error:
                if not error.connection_invalidated:
                    raise
                log.warning("the journal's database connection was lost; reconnecting")
                self._insert_once(rows)

    def _insert_once(self, rows: list[dict[str, Any]]) -> None:
        if self._connection is None:
            self._connection = self.engine.connect()
        try:
            self._connection.execute(self._statement, rows)
            self._connection.commit()
        except BaseException:
            self._disconnect()  # rolled back; the next batch starts on a fresh connection
            raise

    def _disconnect(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            connection.close()
