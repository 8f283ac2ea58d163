"""Single-row inserts outside the unit of work: ``INSERT ... ON CONFLICT DO NOTHING`` on SQLite
and PostgreSQL alike, and a new row stored at once."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Insert, Table, inspect, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import Session, SQLModel


def insert_ignore(session: Session, table: type[SQLModel], values: dict[str, Any]) -> bool:
    """Insert one row unless a unique key already holds it; True when this call inserted it.

    On PostgreSQL a concurrent transaction inserting the same key makes this one wait for
    it and then do nothing, so exactly one of them sees True.
    """
    primary_key = [c.key for c in table.__table__.primary_key.columns]  # type: ignore[attr-defined]
    return bool(insert_ignore_many(session, table, [values], primary_key))


def claim_row(
    session: Session,
    table: type[SQLModel],
    values: dict[str, Any],
    stale: ColumnElement[bool] | None = None,
) -> bool:
    """Take a row that says something was done (once, or once per period): update the row
    with ``values``' primary key to ``values`` where it is ``stale``, else insert it unless it
    exists; True when this call took it. One conditional statement each, so of concurrent
    callers (replicas included) exactly one sees True."""
    if stale is not None:
        key = table.__table__.primary_key.columns  # type: ignore[attr-defined]
        renewed = session.connection().execute(
            update(table).where(*(c == values[c.key] for c in key), stale).values(values)
        )
        if renewed.rowcount:
            return True
    return insert_ignore(session, table, values)


def insert_ignore_many(
    session: Session, table: type[SQLModel], rows: Sequence[dict[str, Any]], key: Sequence[str]
) -> set[tuple[Any, ...]]:
    """Insert ``rows`` but those a unique key already holds; returns the values of the
    columns ``key`` of the rows this call inserted (as for :func:`insert_ignore`, RETURNING
    tells them: rowcount is unreliable here). SQLAlchemy sends the rows a page at a time
    ("insertmanyvalues"), within each engine's limit of bound parameters."""
    if not rows:
        return set()
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    table_ = table.__table__  # type: ignore[attr-defined]
    statement = (
        module.insert(table_).on_conflict_do_nothing().returning(*(table_.c[name] for name in key))
    )
    return {tuple(row) for row in session.connection().execute(statement, list(rows))}


Row = TypeVar("Row", bound=SQLModel)


def insert_now(session: Session, row: Row) -> Row:
    """Insert a new row at once and keep it in ``session`` as if a flush had stored it.

    A flush only to learn a new row's id costs a pass of the unit of work over everything
    pending: a new customer's message took three, each storing the batch's earlier work one
    row at a time. One ``INSERT ... RETURNING`` does not. Mapper events do not run for ``row``.

    Unlike a flushed row, ``row`` stays in the session when its transaction or savepoint rolls
    back; SQLite then hands its id to the next insert, which replaces it here.
    """
    table = row.__table__  # type: ignore[attr-defined]
    values = {c.key: getattr(row, c.key) for c in table.columns if not c.primary_key}
    row.id = session.connection().execute(_insert(table), values).scalar_one()  # type: ignore[attr-defined]
    hold_as_stored(session, row)
    return row


def hold_as_stored(session: OrmSession, row: SQLModel) -> None:
    """Keep ``row``, just inserted outside the unit of work, in ``session`` as a loaded row:
    its values the stored ones, nothing pending. A row of the same key that a rollback left
    behind makes way for it."""
    if inspect(row).pending:
        session.expunge(row)
    make_transient_to_detached(row)
    rolled_back = session.identity_map.get(inspect(row).key)
    if rolled_back is not None:
        session.expunge(rolled_back)
    session.add(row)


@cache
def _insert(table: Table) -> Insert:
    (key,) = table.primary_key.columns
    return table.insert().returning(key)
