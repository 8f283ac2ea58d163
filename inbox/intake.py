"""Webhook requests being answered right now, so that the journal worker can step aside.

The worker and the webhooks share one interpreter. While the worker's thread runs its
Python, the event loop answering a webhook gets the GIL back only at the next switch, and a
request hands it over many times (socket reads, the journal's commit in a thread, the
answer): a delivery that arrives mid-batch waited for much of the batch. Between two
deliveries the worker now waits, for a bounded moment, until no webhook is in flight.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class Intake:
    def __init__(self) -> None:
        self._state = threading.Condition()
        self._in_flight = 0
        self._last_answered = -math.inf  # time.monotonic() when the last request ended

    @contextmanager
    def receiving(self) -> Iterator[None]:
        """Count one webhook request in flight for as long as it is being answered."""
        with self._state:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._state:
                self._in_flight -= 1
                self._last_answered = time.monotonic()
                if not self._in_flight:
                    self._state.notify_all()

    def busy(self) -> bool:
        return self._in_flight > 0

    def wait_idle(self, timeout: float) -> bool:
        """Block until no webhook is in flight, or ``timeout`` seconds; True if idle."""
        with self._state:
            return self._state.wait_for(lambda: not self._in_flight, timeout)

    def wait_quiet(self, quiet_s: float, timeout: float) -> bool:
        """Block until no webhook has been in flight for ``quiet_s`` seconds, or ``timeout``
        seconds; True if quiet. For background work that webhooks arriving steadily (idle
        only between two of them) should put off, not merely let go first."""
        deadline = time.monotonic() + timeout
        with self._state:
            while True:
                now = time.monotonic()
                if not self._in_flight and now - self._last_answered >= quiet_s:
                    return True
                if now >= deadline:
                    return False
                if self._in_flight:  # woken when the last one in flight is answered
                    self._state.wait(deadline - now)
                else:
                    self._state.wait(min(deadline, self._last_answered + quiet_s) - now)
