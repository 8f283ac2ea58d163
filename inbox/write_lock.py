"""One writer at a time for a SQLite file, with webhooks first.

SQLite has one writer. In the daemon the hot writers are the journal writer (a webhook's
200 waits for its commit) and the journal worker (which stores a batch of deliveries per
transaction). They queue here instead of sleeping in SQLite's busy handler, and the journal
writer is *urgent*: it goes before the worker's next turn, and the worker, between two
deliveries of a batch, commits what it has stored and lets it in. A webhook then waits for
at most one delivery's worth of the worker's work, not a whole batch. The other writers (the
worker, the SLA check's parts, the timelines and retention batches) take turns in the order
they asked: a job writing part after part would otherwise take the lock back at once each
time, and the worker would wait for all of its parts. PostgreSQL needs no lock: the instance
for it does nothing.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager


class WriteLock:
    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._state = threading.Condition()
        self._held = False
        self._urgent = 0  # urgent writers waiting for their turn
        self._queue: deque[object] = deque()  # the other writers' turns, in the order asked

    def __enter__(self) -> None:
        self._acquire(urgent=False)

    def __exit__(self, *_: object) -> None:
        self._release()

    @contextmanager
    def urgent(self) -> Iterator[None]:
        """Hold the lock, ahead of every writer that is not urgent."""
        self._acquire(urgent=True)
        try:
            yield
        finally:
            self._release()

    def wanted(self) -> bool:
        """Whether an urgent writer waits for the holder to let it in."""
        return self._urgent > 0

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
            self._acquire(urgent=False)

    def _acquire(self, *, urgent: bool) -> None:
        if not self.enabled:
            return
        with self._state:
            if urgent:
                self._urgent += 1
                try:
                    while self._held:
                        self._state.wait()
                finally:
                    self._urgent -= 1
            else:
                turn = object()
                self._queue.append(turn)
                try:
                    while self._held or self._urgent or self._queue[0] is not turn:
                        self._state.wait()
                except BaseException:  # the turn is given up: the next one may go
                    self._queue.remove(turn)
                    self._state.notify_all()
                    raise
                self._queue.popleft()
            self._held = True

    def _release(self) -> None:
        if not self.enabled:
            return
        with self._state:
            self._held = False
            self._state.notify_all()
