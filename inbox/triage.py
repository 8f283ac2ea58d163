"""Which conversation comes first: the documented "most urgent first" order.

Conversations that wait for us come before those that do not; among them, higher
priority first, then the longest-waiting customer (earliest ``waiting_since``),
then the most negative sentiment; then the most recent activity.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, nulls_last

from sportello.inbox.models import Conversation


def urgency_order() -> list[Any]:
    waiting = case((Conversation.waiting_since.is_(None), 1), else_=0)  # type: ignore[union-attr]
    return [
        waiting,
        Conversation.priority.desc(),  # type: ignore[attr-defined]
        nulls_last(Conversation.waiting_since.asc()),  # type: ignore[union-attr]
        nulls_last(Conversation.worst_sentiment.asc()),  # type: ignore[union-attr]
        nulls_last(Conversation.last_message_at.desc()),  # type: ignore[union-attr]
        Conversation.id.desc(),  # type: ignore[union-attr]
    ]
