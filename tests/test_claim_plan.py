"""The journal worker claims pending deliveries from their own index, whatever the statistics.

Analyzed during a backlog (a good part of the journal pending, the processed ones older),
PostgreSQL claimed the oldest pending deliveries by walking the primary key from the first
delivery ever and filtering out every processed one: the worker slowed down by a fifth under
load, and a claim grew with the journal's retention (docs/benchmarks.md, session 24).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, event, insert, text, update
from sqlmodel import Session, col, select

from sportello.inbox import journal
from sportello.inbox.models import Delivery

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
ARRIVALS, ARRIVING, PROCESSED_EACH = 50, 100, 60
PROCESSED = ARRIVALS * PROCESSED_EACH  # 3,000 processed, then 2,000 pending
PENDING = ARRIVALS * ARRIVING - PROCESSED


def _fill(session: Session, *, analyze: bool) -> None:
    """The journal in the middle of a backlog, as the webhooks and the worker leave it:
    deliveries arrive in batches and the worker marks the oldest ones processed, which
    rewrites them further on in the table."""
    for batch in range(ARRIVALS):
        rows = [
            journal.delivery_row("telegram", b"{}", NOW, {}, f"update:{batch}-{n}")
            for n in range(ARRIVING)
        ]
        session.exec(insert(Delivery), params=rows)  # type: ignore[call-overload]
        oldest = (
            select(Delivery.id)
            .where(Delivery.state == journal.PENDING)
            .order_by(col(Delivery.id))
            .limit(PROCESSED_EACH)
        )
        session.exec(
            update(Delivery)  # type: ignore[call-overload]
            .where(col(Delivery.id).in_(oldest.scalar_subquery()))
            .values(state=journal.PROCESSED)
        )
        session.commit()
    if analyze:
        session.exec(text("ANALYZE deliveries"))  # type: ignore[call-overload]
        session.commit()


def _claimed_explained(session: Session) -> tuple[list[Delivery], Any]:
    """``claim_pending``'s deliveries, and the plan of its statement: JSON on PostgreSQL
    (with actual rows), ``EXPLAIN QUERY PLAN``'s rows on SQLite."""
    engine = session.get_bind()
    executed: list[tuple[str, Any]] = []

    def capture(_c: object, _cur: object, statement: str, params: Any, *_: object) -> None:
        if "FROM deliveries" in statement:
            executed.append((statement, params))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        claimed = journal.claim_pending(session, 50)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    [(statement, params)] = executed
    cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    if engine.dialect.name == "postgresql":
        assert not params  # nothing bound, so a plan kept for reuse may use the index too
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement)
        [[[plan]]] = cursor.fetchall()
    else:
        cursor.execute("EXPLAIN QUERY PLAN " + statement, params)
        plan = cursor.fetchall()
    cursor.close()
    return claimed, plan


def _scans_of(plan: dict[str, Any]) -> list[dict[str, Any]]:
    found = [plan] if plan.get("Relation Name") == "deliveries" else []
    for child in plan.get("Plans", []):
        found += _scans_of(child)
    return found


@pytest.mark.parametrize("analyze", [True, False], ids=["analyzed", "no-statistics"])
def test_the_claim_reads_only_pending_deliveries(engine: Engine, analyze: bool) -> None:
    with Session(engine) as session:
        _fill(session, analyze=analyze)
        claimed, plan = _claimed_explained(session)
        ids = [d.id for d in claimed]
        session.rollback()
    assert ids == list(range(PROCESSED + 1, PROCESSED + 51))
    if engine.dialect.name == "postgresql":
        # An index of the pending ones, never the primary key filtering out processed ones.
        [scan] = _scans_of(plan["Plan"])
        index = scan.get("Index Name") or scan["Plans"][0]["Index Name"]
        assert index in ("ix_deliveries_pending", "ix_deliveries_state_id"), plan
        assert scan.get("Rows Removed by Filter", 0) == 0, plan
        # Analyzed: the first 50 in order and no more. Never analyzed, the planner guesses a
        # dozen pending and may read and sort them all, but only them, until an ANALYZE.
        assert scan["Actual Rows"] <= (50 if analyze else PENDING), plan
    else:  # SQLite searches an index on the state; it never scans the table
        details = [row[-1] for row in plan]
        assert any("USING INDEX ix_deliveries_" in d for d in details), details
        assert not any(d == "SCAN deliveries" for d in details), details
