"""Which conversation comes first: the documented "most urgent first" order.

The inbox is sorted by these keys, each breaking the ties of the one before:

1. **waiting for us**: a conversation whose customer wrote after our last answer
   (``waiting_since`` is set) comes before one that waits for nobody;
2. **priority**: higher first (0 normal … 3 urgent, set by agents or automation);
3. **deadline**: the earliest SLA deadline first, conversations without one after those
   with one. The SLA area plugs its deadline in through :data:`DEADLINES`; with none
   registered this key is skipped;
4. **negative sentiment**: a conversation whose latest customer message scored at or
   below :data:`NEGATIVE_SENTIMENT` (VADER-style compound, label "negative") first;
5. **waiting time**: the customer waiting longest first (earliest ``waiting_since``:
   the first of their messages we have not answered yet);
6. **recent activity**: the latest message first, then the newest conversation.

Everything is one SQL ``ORDER BY`` (:func:`urgency_order`), so it pages with
``LIMIT/OFFSET`` and uses the ``(status, waiting_since)`` index under a status filter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import case, nulls_last
from sqlalchemy.sql.elements import ColumnElement

from sportello.inbox.models import Conversation

NEGATIVE_SENTIMENT = -0.05

# Each entry returns a SQL expression of a conversation's next deadline (an aware UTC
# timestamp, NULL when it has none), e.g. ``lambda: Conversation.sla_due_at`` or a
# correlated subquery on the SLA area's own table. They sort in registration order.
DEADLINES: list[Callable[[], ColumnElement[Any]]] = []


def urgency_order() -> list[Any]:
    waiting = case((Conversation.waiting_since.is_(None), 1), else_=0)  # type: ignore[union-attr]
    negative = case(
        (Conversation.latest_sentiment <= NEGATIVE_SENTIMENT, 0),  # type: ignore[operator]
        else_=1,
    )
    return [
        waiting,
        Conversation.priority.desc(),  # type: ignore[attr-defined]
        *(nulls_last(deadline().asc()) for deadline in DEADLINES),
        negative,
        nulls_last(Conversation.waiting_since.asc()),  # type: ignore[union-attr]
        nulls_last(Conversation.last_message_at.desc()),  # type: ignore[union-attr]
        Conversation.id.desc(),  # type: ignore[union-attr]
    ]
