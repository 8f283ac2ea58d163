"""Background work done batch after batch, within a time budget (the periodic jobs')."""

from __future__ import annotations

import time
from collections.abc import Callable


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
