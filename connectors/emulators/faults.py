"""Scripted failures an emulator plays before answering normally."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Fault:
    status: int
    count: int
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


class FaultPlan:
    """Per-endpoint queues of failures: the next ``count`` calls get ``status``."""

    def __init__(self) -> None:
        self._faults: dict[str, list[Fault]] = {}
        self._lock = threading.Lock()

    def add(self, endpoint: str, fault: Fault) -> None:
        with self._lock:
            self._faults.setdefault(endpoint, []).append(fault)

    def take(self, endpoint: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(endpoint) or []
            if not queue:
                return None
            fault = queue[0]
            fault.count -= 1
            if fault.count <= 0:
                queue.pop(0)
            return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
