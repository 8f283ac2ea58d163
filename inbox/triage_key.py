"""The inbox order as one sortable string, so "most urgent first" is an index scan.

The key spells out, in order, every key of the documented order (``inbox/triage.py``)
except "overdue", which depends on the moment of the query and is handled there.
Ascending order of the key is the inbox order; ties are broken by the oldest id.
"""

from __future__ import annotations

from datetime import datetime

NEGATIVE_SENTIMENT = -0.05
_NEVER = "9" * 17  # sorts after every real instant
_MICROS_SPAN = 10**17


def _instant(value: datetime | None) -> str:
    return _NEVER if value is None else f"{int(value.timestamp() * 1_000_000):017d}"


def _instant_desc(value: datetime | None) -> str:
    """Later instants first; none last."""
    if value is None:
        return _NEVER
    return f"{_MICROS_SPAN - 1 - int(value.timestamp() * 1_000_000):017d}"


def triage_key(
    *,
    waiting_since: datetime | None,
    priority: int,
    sla_due_at: datetime | None,
    latest_sentiment: float | None,
    last_message_at: datetime | None,
) -> str:
    waiting = "0" if waiting_since is not None else "1"
    negative = latest_sentiment is not None and latest_sentiment <= NEGATIVE_SENTIMENT
    return "|".join(
        (
            waiting,
            str(9 - max(0, min(priority, 9))),
            _instant(sla_due_at),
            "0" if negative else "1",
            _instant(waiting_since),
            _instant_desc(last_message_at),
        )
    )
