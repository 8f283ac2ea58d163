"""Webhook requests being answered right now, so that the journal worker can step aside.

The worker and the webhooks share one interpreter. While the worker's thread runs its
Python, the event loop answering a webhook gets the GIL back only at the next switch, and a
request hands it over many times (socket reads, the journal's commit in a thread, the
answer): a delivery that arrives mid-batch waited for much of the batch. Between two
deliveries the worker now waits, for a bounded moment, until no webhook is in flight.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Intake:
    def __init__(self) -> None:
        self._state = threading.Condition()
        self._in_flight = 0

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
                if not self._in_flight:
                    self._state.notify_all()

    def busy(self) -> bool:
        return self._in_flight > 0

    def wait_idle(self, timeout: float) -> bool:
        """Block until no webhook is in flight, or ``timeout`` seconds; True if idle."""
        with self._state:
            return self._state.wait_for(lambda: not self._in_flight, timeout)
