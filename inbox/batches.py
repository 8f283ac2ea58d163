"""Work done batch after batch: background work within a time budget (the periodic jobs'),
and long lists of ids asked about a chunk at a time."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

# Ids per ``IN (...)``: keeps the bound parameters few on every engine (SQLite allows 32,766).
CHUNK = 500


def in_batches(
    step: Callable[[], int],
    full: int,
    *,
    budget_s: float,
    pause: Callable[[], object] | None = None,
) -> int:
    """Run ``step`` (one batch; returns how much it did) until a batch does less than
    ``full`` or about ``budget_s`` seconds have passed; returns the total. ``pause`` runs
    before each batch: the daemon waits there for a quiet moment in the webhooks."""
    deadline = time.monotonic() + budget_s
    total = 0
    while True:
        if pause is not None:
            pause()
        done = step()
        total += done
        if done < full or time.monotonic() >= deadline:
            return total


def chunked(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
