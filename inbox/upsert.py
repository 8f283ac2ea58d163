"""``INSERT ... ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL alike."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel


def insert_ignore(session: Session, table: type[SQLModel], values: dict[str, Any]) -> bool:
    """Insert one row unless a unique key already holds it; True when this call inserted it.

    On PostgreSQL a concurrent transaction inserting the same key makes this one wait for
    it and then do nothing, so exactly one of them sees True.
    """
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    table_ = table.__table__  # type: ignore[attr-defined]
    statement = (
        module.insert(table_)
        .values(**values)
        .on_conflict_do_nothing()
        .returning(*table_.primary_key.columns)  # rowcount is unreliable here; RETURNING is not
    )
    return session.connection().execute(statement).first() is not None
