"""The look-alike query keeps its index on PostgreSQL once its statement is prepared.

psycopg prepares a statement run often, and PostgreSQL then plans it once for any
parameters (a generic plan). Such a plan cannot use the handle index for ``LIKE $1``: every
new customer read every identity (34 ms at 1M messages instead of 0.3). Nor, where the table
has no statistics yet, with a bound ``LIMIT $6``: it scanned every identity, meaning to stop
early.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Connection, Engine, event, insert, text
from sqlalchemy.engine import ExecutionContext
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlmodel import Session, select

from sportello.inbox.linking import suggest_links
from sportello.inbox.models import Customer, Identity

# These tests read the planner's statistics: a schema of their own.
pytestmark = pytest.mark.rebuilt_schema

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
PEOPLE = 3_000


def _fill(session: Session, analyze: bool) -> None:
    session.exec(
        insert(Customer),  # type: ignore[call-overload]
        params=[{"display_name": f"Persona {n}", "created_at": NOW} for n in range(PEOPLE)],
    )
    ids = session.exec(select(Customer.id)).all()
    session.exec(
        insert(Identity),  # type: ignore[call-overload]
        params=[
            {
                "customer_id": customer_id,
                "channel": "telegram" if n % 2 else "x",
                "external_id": str(5_000_000 + n),
                "handle": f"user{n}",
                "display_name": f"Persona {n}",
                "created_at": NOW,
            }
            for n, customer_id in enumerate(ids)
        ],
    )
    if analyze:
        session.exec(text("ANALYZE identities"))  # type: ignore[call-overload]


def _generic_plan(session: Session, statement: str, params: dict[str, object]) -> str:
    """The plan PostgreSQL keeps for ``statement`` once it is prepared, for any parameters."""
    names: list[str] = []

    def numbered(match: re.Match[str]) -> str:
        names.append(match.group(1))
        return f"${len(names)}"

    prepared = re.sub(r"%\((\w+)\)s", numbered, statement).replace("%%", "%")
    raw = session.connection().connection.dbapi_connection
    assert isinstance(raw, psycopg.Connection)
    arguments = ", ".join(sql.Literal(params[name]).as_string(raw) for name in names)
    with raw.cursor() as cursor:  # no parameters: the text goes to the server as it is
        cursor.execute(f"PREPARE look_alike AS {prepared}")
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute(f"EXPLAIN EXECUTE look_alike({arguments})")
        rows = cursor.fetchall()
    return "\n".join(row[0] for row in rows)


@pytest.mark.parametrize("analyzed", [True, False], ids=["analyzed", "no-statistics"])
def test_a_new_customer_finds_look_alikes_through_the_indexes(
    engine: Engine, analyzed: bool
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only (SQLite plans each statement with its values)")
    with Session(engine) as session:
        if not analyzed:
            session.exec(text("ALTER TABLE identities SET (autovacuum_enabled = false)"))  # type: ignore[call-overload]
        _fill(session, analyze=analyzed)
        customer = Customer(display_name="Zorro Rossi", created_at=NOW)
        session.add(customer)
        session.flush()
        assert customer.id is not None
        newcomer = Identity(
            customer_id=customer.id,
            channel="whatsapp",
            external_id="393330000001",
            handle="zorro_rossi",
            display_name="Zorro Rossi",
            created_at=NOW,
        )
        session.add(newcomer)
        session.flush()
        executed: list[tuple[str, dict[str, object]]] = []

        def capture(
            conn: Connection,
            cursor: DBAPICursor,
            statement: str,
            parameters: dict[str, object],
            context: ExecutionContext | None,
            executemany: bool,
        ) -> None:
            if "FROM identities" in statement:
                executed.append((statement, parameters))

        event.listen(engine, "before_cursor_execute", capture)
        try:
            suggest_links(session, newcomer, NOW)
        finally:
            event.remove(engine, "before_cursor_execute", capture)
        [(statement, params)] = executed
        plan = _generic_plan(session, statement, params)
        session.rollback()
    assert "Seq Scan on identities" not in plan, plan
    assert "ix_identities_lower_handle" in plan, plan
