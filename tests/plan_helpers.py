"""The statements the code sends, and how the database ran them: for the tests of statements
and of query plans."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlmodel import Session


@contextmanager
def on_each_statement(
    engine: Engine | Connection, record: Callable[[str, Any, bool], object]
) -> Iterator[None]:
    """``record(statement, parameters, executemany)`` for each statement ``engine`` sends
    inside the block."""

    def before(
        _c: object, _cur: object, statement: str, params: Any, _x: object, many: bool
    ) -> None:
        record(statement, params, many)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", before)


@contextmanager
def statements_run(engine: Engine | Connection, marker: str) -> Iterator[list[tuple[str, Any]]]:
    """The statements containing ``marker`` run inside the block, with their parameters."""
    executed: list[tuple[str, Any]] = []

    def keep(statement: str, params: Any, _many: bool) -> None:
        if marker in statement:
            executed.append((statement, params))

    with on_each_statement(engine, keep):
        yield executed


Writes = list[tuple[str, list[dict[str, Any]]]]
"""Write statements, each with its rows of parameters by column name (whatever the driver)."""


@contextmanager
def write_transactions(engine: Engine) -> Iterator[list[Writes]]:
    """The transactions committed inside the block that wrote, each as its writes."""
    committed: list[Writes] = []
    pending: Writes = []

    def before(_c: object, _cur: object, statement: str, _p: Any, context: Any, _m: bool) -> None:
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            pending.append((statement, list(context.compiled_parameters)))

    def commit(_connection: object) -> None:
        if pending:
            committed.append(list(pending))
            pending.clear()

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "commit", commit)
    try:
        yield committed
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "commit", commit)


def explain(session: Session, statement: str, params: Any) -> Any:
    """How ``statement`` runs with ``params``: on PostgreSQL its plan as JSON, with actual
    rows (it is run); on SQLite the details of ``EXPLAIN QUERY PLAN``."""
    raw = session.connection().connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        if session.get_bind().dialect.name == "postgresql":
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, params or None)
            [[[plan]]] = cursor.fetchall()
            return plan
        cursor.execute("EXPLAIN QUERY PLAN " + statement, params)
        return [row[-1] for row in cursor.fetchall()]
    finally:
        cursor.close()


def scans_of(plan: dict[str, Any], table: str) -> list[dict[str, Any]]:
    """The nodes of a PostgreSQL plan that read ``table``."""
    found = [plan] if plan.get("Relation Name") == table else []
    for child in plan.get("Plans", []):
        found += scans_of(child, table)
    return found
