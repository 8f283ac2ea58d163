"""One writer at a time for a SQLite file: webhooks first, then the journal worker, then the
periodic jobs.

SQLite has one writer. In the daemon the hot writers are the journal writer (a webhook's
200 waits for its commit) and the journal worker (which stores a batch of deliveries per
transaction). They queue here instead of sleeping in SQLite's busy handler, and the journal
writer is *urgent*: it goes before the worker's next turn, and the worker, between two
deliveries of a batch, commits what it has stored and lets it in. A webhook then waits for
at most one delivery's worth of the worker's work, not a whole batch.

The periodic jobs that write in batches (the SLA check's parts, the surveys' parts, the
stored timelines, the journal's retention) take the lock as *background* writers, after the
worker too: they can wait, and a job writing part after part (an SLA catch-up over 14,700
overdue conversations writes 735) would otherwise take the lock back at once after each
part, ahead of the worker waiting for it. Within a level, turns go in the order asked.
PostgreSQL needs no lock: the instance for it does nothing.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

URGENT, NORMAL, BACKGROUND = 0, 1, 2


class WriteLock:
    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._state = threading.Condition()
        self._held = False
        # The turns waiting at each level, in the order asked.
        self._waiting: tuple[deque[object], ...] = (deque(), deque(), deque())
        self.background = _Level(self, BACKGROUND)
        """``with lock.background:`` holds the lock after every other writer waiting."""

    def __enter__(self) -> None:
        self._acquire(NORMAL)

    def __exit__(self, *_: object) -> None:
        self._release()

    @contextmanager
    def urgent(self) -> Iterator[None]:
        """Hold the lock, ahead of every writer that is not urgent."""
        self._acquire(URGENT)
        try:
            yield
        finally:
            self._release()

    def wanted(self) -> bool:
        """Whether an urgent writer waits for the holder to let it in."""
        return bool(self._waiting[URGENT])

    @contextmanager
    def released(self) -> Iterator[None]:
        """Let go of the lock for the ``with`` block (the urgent writers waiting for it get
        it), and take it back after them.

        The holder must have committed: its transaction ends here.
        """
        self._release()
        try:
            yield
        finally:
            self._acquire(NORMAL)

    def _acquire(self, level: int) -> None:
        if not self.enabled:
            return
        with self._state:
            turn, queue = object(), self._waiting[level]
            queue.append(turn)
            try:
                while self._held or queue[0] is not turn or any(self._waiting[:level]):
                    self._state.wait()
            except BaseException:  # the turn is given up: the next one may go
                queue.remove(turn)
                self._state.notify_all()
                raise
            queue.popleft()
            self._held = True

    def _release(self) -> None:
        if not self.enabled:
            return
        with self._state:
            self._held = False
            self._state.notify_all()


class _Level:
    """The lock taken at a lower ``level``: a context manager that can be entered again."""

    def __init__(self, lock: WriteLock, level: int) -> None:
        self._lock = lock
        self._level = level

    def __enter__(self) -> None:
        self._lock._acquire(self._level)

    def __exit__(self, *_: object) -> None:
        self._lock._release()
