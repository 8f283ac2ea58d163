"""Failed sign-ins slow a guesser down.

After too many failures within a window, for one user name or from one client address, the
sign-in form refuses without checking the password (``429`` with ``Retry-After``) until the
oldest of them leaves the window; a success forgets the name's failures. The address limit is
higher, as an office's colleagues may share one. Kept in memory by each daemon process: a
restart forgets, and replicas count apart.
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime, timedelta

WINDOW = timedelta(minutes=15)
PER_NAME = 5
PER_ADDRESS = 30
MAX_KEYS = 10_000  # past this many names and addresses, the expired ones are swept

Key = tuple[str, str]


class LoginThrottle:
    def __init__(
        self, window: timedelta = WINDOW, per_name: int = PER_NAME, per_address: int = PER_ADDRESS
    ) -> None:
        self.window = window
        self.limits = {"name": per_name, "address": per_address}
        self._failures: dict[Key, deque[datetime]] = {}
        self._lock = threading.Lock()

    def wait(self, name: str, address: str, now: datetime) -> timedelta | None:
        """How long a sign-in as ``name`` from ``address`` must wait; None: it may try now."""
        waits = []
        with self._lock:
            for key in self._keys(name, address):
                failures = self._recent(key, now)
                limit = self.limits[key[0]]
                if len(failures) >= limit:
                    waits.append(failures[len(failures) - limit] + self.window - now)
        return max(waits) if waits else None

    def failed(self, name: str, address: str, now: datetime) -> None:
        with self._lock:
            if len(self._failures) >= MAX_KEYS:
                for key in list(self._failures):
                    self._recent(key, now)
            for key in self._keys(name, address):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(("name", name.casefold()), None)

    @staticmethod
    def _keys(name: str, address: str) -> tuple[Key, Key]:
        return ("name", name.casefold()), ("address", address)

    def _recent(self, key: Key, now: datetime) -> deque[datetime]:
        """The failures of ``key`` still in the window (a key with none is dropped)."""
        failures = self._failures.get(key, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            self._failures.pop(key, None)
        return failures
