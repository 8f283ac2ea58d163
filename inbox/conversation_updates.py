"""A flush's changed conversations, updated with one statement per set of changed columns.

The unit of work updates dirty rows in primary-key order and starts a new statement each time
a row's changed columns differ from the previous row's. The journal worker's batch changes a
few columns of some 40 conversations in about four combinations (latest sentiment; with the
worst; with the inbox order; ...), in no particular order, and so took some 25 statements a
batch: on PostgreSQL about 110 µs of CPU each, 90 µs per delivery. Grouped by their changed
columns, they take one ``executemany`` per combination.

Each row writes only the columns it changed, as the unit of work would: a column the worker
did not touch is never written back with the value read at the start of its batch (an
agent's reply or status change made meanwhile through the API stays). Rows that change a key
(primary or foreign), or hold a SQL expression, are left to the unit of work.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import groupby
from operator import itemgetter
from typing import Any

from sqlalchemy import bindparam, event, inspect, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import NO_VALUE, set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.sql import ClauseElement

from sportello.inbox.models import Conversation, before_write

_TABLE = Conversation.__table__  # type: ignore[attr-defined]
# The columns grouped here: not the keys, whose changes the unit of work orders with the rows
# they point to.
_PLAIN = frozenset(c.key for c in _TABLE.columns if not (c.primary_key or c.foreign_keys))
# No VALUES clause: each executemany sets the columns named in its parameters.
_UPDATE = update(_TABLE).where(_TABLE.c.id == bindparam("row_id"))


@event.listens_for(Session, "before_flush")
def _update_conversations_together(session: Session, _flush: Any, _instances: Any) -> None:
    dirty = [row for row in session.dirty if type(row) is Conversation]  # deleted ones: not
    if len(dirty) < 2:  # one row: the unit of work's one statement
        return
    shaped: list[tuple[int, tuple[str, ...], Conversation, dict[str, Any]]] = []
    for conversation in dirty:
        before_write(conversation)  # what the ``before_update`` listener would do
        changes = _changes(conversation)
        if changes and conversation.id is not None:
            shaped.append((conversation.id, tuple(sorted(changes)), conversation, changes))
    shaped.sort(key=itemgetter(0))  # the unit of work's order
    groups: dict[tuple[str, ...], list[tuple[Conversation, dict[str, Any]]]] = defaultdict(list)
    for _, shape, conversation, changes in shaped:
        groups[shape].append((conversation, changes))
    runs = sum(1 for _ in groupby(shape for _, shape, _, _ in shaped))
    if runs <= len(groups):  # already one statement per set of columns: nothing to gain
        return
    connection = session.connection()
    for rows in groups.values():
        params = [{"row_id": row.id, **changes} for row, changes in rows]
        result = connection.execute(_UPDATE, params)
        if connection.dialect.supports_sane_multi_rowcount and result.rowcount != len(params):
            raise StaleDataError(
                f"UPDATE of conversations expected {len(params)} rows, matched {result.rowcount}"
            )
        for row, changes in rows:
            for key, value in changes.items():
                set_committed_value(row, key, value)


def _changes(conversation: Conversation) -> dict[str, Any] | None:
    """The plain columns ``conversation`` changed and their new values; None if it changed
    anything this module leaves to the unit of work (or nothing at all)."""
    state = inspect(conversation)
    changes: dict[str, Any] = {}
    for key, old in state.committed_state.items():
        if key not in _PLAIN:
            return None
        new = state.dict.get(key, NO_VALUE)
        if new is NO_VALUE or isinstance(new, ClauseElement) or hasattr(new, "__clause_element__"):
            return None
        if old is NO_VALUE or new != old:
            changes[key] = new
    return changes or None
