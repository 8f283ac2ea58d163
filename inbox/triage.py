"""Which conversation comes first: the documented "most urgent first" order.

The inbox is sorted by these keys, each breaking the ties of the one before:

1. **overdue**: a conversation past its SLA deadline (``sla_due_at`` before now) first;
2. **waiting for us**: a conversation whose customer wrote after our last answer
   (``waiting_since`` is set) comes before one that waits for nobody;
3. **priority**: higher first (0 normal … 3 urgent, set by agents or automation);
4. **deadline**: the earliest SLA deadline first, conversations without one after those
   with one (``sla_due_at``, kept by the SLA check, see ``inbox/sla.py``);
5. **negative sentiment**: a conversation whose latest customer message scored at or
   below :data:`NEGATIVE_SENTIMENT` (VADER-style compound, label "negative") first;
6. **waiting time**: the customer waiting longest first (earliest ``waiting_since``:
   the first of their messages we have not answered yet);
7. **recent activity**: the latest message first, then the newest conversation.

Everything is one SQL ``ORDER BY`` (:func:`urgency_order`), so it pages with
``LIMIT/OFFSET`` and uses the ``(status, waiting_since)`` index under a status filter.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, nulls_last

from sportello.inbox.models import Conversation

NEGATIVE_SENTIMENT = -0.05


def urgency_order(now: datetime | None = None) -> list[Any]:
    """The ORDER BY of the inbox; without ``now`` the overdue key is left out."""
    waiting = case((Conversation.waiting_since.is_(None), 1), else_=0)  # type: ignore[union-attr]
    negative = case(
        (Conversation.latest_sentiment <= NEGATIVE_SENTIMENT, 0),  # type: ignore[operator]
        else_=1,
    )
    overdue = (
        [case((Conversation.sla_due_at <= now, 0), else_=1)]  # type: ignore[operator]
        if now is not None
        else []
    )
    return [
        *overdue,
        waiting,
        Conversation.priority.desc(),  # type: ignore[attr-defined]
        nulls_last(Conversation.sla_due_at.asc()),  # type: ignore[union-attr]
        negative,
        nulls_last(Conversation.waiting_since.asc()),  # type: ignore[union-attr]
        nulls_last(Conversation.last_message_at.desc()),  # type: ignore[union-attr]
        Conversation.id.desc(),  # type: ignore[union-attr]
    ]
