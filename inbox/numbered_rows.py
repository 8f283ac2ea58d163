"""A batch's new customers, identities and conversations numbered ahead, stored together.

A new customer took three ``INSERT ... RETURNING`` round trips (its customer, identity and
conversation), each only to learn the id the next row points to: on PostgreSQL about half of
storing a new customer's message. There the journal worker now reserves the ids its batch may
need from the sequences, in one query with its lookups (:meth:`ReservedIds.reserve`); a new
row takes one (:func:`add_new`) and waits in the session, and before the flush
:func:`_insert_numbered_rows` stores the waiting rows with one ``executemany`` per table,
parents first: the unit of work orders inserts by ``relationship()``, which these tables do
not declare, and put a conversation before its customer.

SQLite has no sequence and answers in-process: a new row there is inserted at once
(``insert_now``), as is a row without a reserved id. An id reserved and not used is a gap in
the sequence, as a rolled-back insert leaves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Table, event, text
from sqlalchemy.orm import Session
from sqlmodel import Session as SQLSession
from sqlmodel import SQLModel

from sportello.inbox.models import Conversation, Customer, Identity, before_write
from sportello.inbox.upsert import hold_as_stored, insert_now

PARENTS_FIRST: tuple[type[SQLModel], ...] = (Customer, Identity, Conversation)
_NUMBERED = frozenset(PARENTS_FIRST)


def _table(model: type[SQLModel]) -> Table:
    return model.__table__  # type: ignore[attr-defined,no-any-return]


def _next_ids(table: str) -> str:
    sequence = f"pg_get_serial_sequence('{table}', 'id')"
    return f"ARRAY(SELECT nextval({sequence}) FROM generate_series(1, :{table}))"


RESERVE = text("SELECT " + ", ".join(_next_ids(_table(model).name) for model in PARENTS_FIRST))

Row = TypeVar("Row", Customer, Identity, Conversation)


@dataclass
class ReservedIds:
    """Ids taken from PostgreSQL's sequences for the new rows of one batch."""

    free: dict[type[SQLModel], list[int]] = field(default_factory=dict)

    @classmethod
    def reserve(
        cls, session: Session, *, customers: int, identities: int, conversations: int
    ) -> ReservedIds:
        """Up to so many ids per table, in one query; none on SQLite, nor for a lone new row
        of each kind (inserted at once, it takes one round trip, not two)."""
        counts = (customers, identities, conversations)
        if max(counts) < 2 or session.get_bind().dialect.name != "postgresql":
            return cls()
        params = {_table(model).name: n for model, n in zip(PARENTS_FIRST, counts, strict=True)}
        row = session.connection().execute(RESERVE, params).one()
        # Taken from the end (``list.pop``): reversed, rows are numbered in the order made.
        return cls({model: ids[::-1] for model, ids in zip(PARENTS_FIRST, row, strict=True)})

    def take(self, model: type[SQLModel]) -> int | None:
        free = self.free.get(model)
        return free.pop() if free else None


def add_new(session: SQLSession, row: Row, reserved: ReservedIds) -> Row:
    """Give a new ``row`` its id: a reserved one (the row is stored at the next flush, before
    anything that points to it), else from an insert at once."""
    row.id = reserved.take(type(row))
    if row.id is None:
        return insert_now(session, row)
    session.add(row)
    return row


@event.listens_for(Session, "before_flush")
def _insert_numbered_rows(session: Session, _flush: Any, _instances: Any) -> None:
    waiting = [row for row in session.new if type(row) in _NUMBERED and row.id is not None]
    if not waiting:
        return
    connection = session.connection()
    for model in PARENTS_FIRST:
        rows = [row for row in waiting if type(row) is model]
        if not rows:
            continue
        if model is Conversation:  # what its ``before_insert`` listener does
            for conversation in rows:
                before_write(conversation)  # type: ignore[arg-type]
        table = _table(model)
        columns = [column.key for column in table.columns]
        connection.execute(table.insert(), [{c: getattr(row, c) for c in columns} for row in rows])
    for row in waiting:
        hold_as_stored(session, row)
