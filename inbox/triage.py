"""Which conversation comes first: the documented "most urgent first" order.

Conversations past their SLA deadline (``sla_due_at`` before ``now``) come first;
then conversations that wait for us before those that do not; among them, higher
priority first, then the nearest SLA deadline, then the longest-waiting customer
(earliest ``waiting_since``), then the most negative sentiment; then the most recent
activity.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, nulls_last

from sportello.inbox.models import Conversation


def urgency_order(now: datetime | None = None) -> list[Any]:
    waiting = case((Conversation.waiting_since.is_(None), 1), else_=0)  # type: ignore[union-attr]
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
        nulls_last(Conversation.waiting_since.asc()),  # type: ignore[union-attr]
        nulls_last(Conversation.worst_sentiment.asc()),  # type: ignore[union-attr]
        nulls_last(Conversation.last_message_at.desc()),  # type: ignore[union-attr]
        Conversation.id.desc(),  # type: ignore[union-attr]
    ]
