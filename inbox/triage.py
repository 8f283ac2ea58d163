"""Which conversation comes first: the documented "most urgent first" order.

The inbox is sorted by these keys, each breaking the ties of the one before:

1. **overdue**: a conversation past its SLA deadline (``sla_due_at`` before now) first;
2. **waiting for us**: a conversation whose customer wrote after our last answer
   (``waiting_since`` is set) comes before one that waits for nobody;
3. **priority**: higher first (0 normal … 3 urgent, set by agents or automation);
4. **deadline**: the earliest SLA deadline first, conversations without one after those
   with one (``sla_due_at``, kept by the SLA check, see ``inbox/sla.py``);
5. **negative sentiment**: a conversation whose latest customer message scored at or
   below ``NEGATIVE_SENTIMENT`` (-0.05, VADER-style compound: label "negative") first;
6. **waiting time**: the customer waiting longest first (earliest ``waiting_since``:
   the first of their messages we have not answered yet);
7. **recent activity**: the latest message first, then the oldest conversation.

Keys 2-7 are stored in ``conversations.triage_key`` (``inbox/triage_key.py``), refreshed on
every write, so a page of the inbox is an index scan, not a sort of every conversation.
Key 1 depends on the moment of the query: the (few) overdue conversations are read first,
then the rest.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from sportello.inbox.models import Conversation

# Ties (the same key to the microsecond) go to the older conversation: with the id ascending,
# the (status, triage_key) index also serves the order on SQLite (its rows end with the id).
ORDER: tuple[Any, ...] = (col(Conversation.triage_key), col(Conversation.id))


def inbox_page(
    session: Session,
    query: SelectOfScalar[Conversation],
    now: datetime,
    offset: int,
    limit: int,
) -> list[Conversation]:
    """``limit`` conversations of ``query`` (a filtered select) from ``offset``, most urgent
    first."""
    # Through the (small) set of overdue ids: the sla_due_at index finds them, and the
    # filters are checked on an index instead of on every filtered row of the table.
    overdue_ids = select(Conversation.id).where(col(Conversation.sla_due_at) <= now)
    overdue = query.where(col(Conversation.id).in_(overdue_ids))
    rest = query.where(
        or_(col(Conversation.sla_due_at).is_(None), col(Conversation.sla_due_at) > now)
    )
    overdue_count = session.exec(select(func.count()).select_from(overdue.subquery())).one()
    rows: list[Conversation] = []
    if offset < overdue_count:
        rows += session.exec(overdue.order_by(*ORDER).offset(offset).limit(limit)).all()
    if len(rows) < limit:
        skip = max(0, offset - overdue_count)
        rows += session.exec(rest.order_by(*ORDER).offset(skip).limit(limit - len(rows))).all()
    return rows
