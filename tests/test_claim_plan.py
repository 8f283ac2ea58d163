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
from plan_helpers import explain, scans_of, statements_run
from sqlalchemy import Engine, insert, text, update
from sqlmodel import Session, col, select

from sportello.inbox import journal
from sportello.inbox.models import Delivery

# These tests read the planner's statistics: a schema of their own.
pytestmark = pytest.mark.rebuilt_schema

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


def _claimed_explained(session: Session) -> tuple[list[int | None], Any]:
    """The ids ``claim_pending`` returns, and the plan of its statement (``explain``)."""
    with statements_run(session.get_bind(), "FROM deliveries") as executed:
        ids = [d.id for d in journal.claim_pending(session, 50)]
    [(statement, params)] = executed
    if session.get_bind().dialect.name == "postgresql":
        assert not params  # nothing bound, so a plan kept for reuse may use the index too
    return ids, explain(session, statement, params)


@pytest.mark.parametrize("analyze", [True, False], ids=["analyzed", "no-statistics"])
def test_the_claim_reads_only_pending_deliveries(engine: Engine, analyze: bool) -> None:
    with Session(engine) as session:
        _fill(session, analyze=analyze)
        ids, plan = _claimed_explained(session)
        session.rollback()
    assert ids == list(range(PROCESSED + 1, PROCESSED + 51))
    if engine.dialect.name == "postgresql":
        # An index of the pending ones, never the primary key filtering out processed ones.
        [scan] = scans_of(plan["Plan"], "deliveries")
        index = scan.get("Index Name") or scan["Plans"][0]["Index Name"]
        assert index in ("ix_deliveries_pending", "ix_deliveries_state_id"), plan
        assert scan.get("Rows Removed by Filter", 0) == 0, plan
        # Analyzed: the first 50 in order and no more. Never analyzed, the planner guesses a
        # dozen pending and may read and sort them all, but only them, until an ANALYZE.
        assert scan["Actual Rows"] <= (50 if analyze else PENDING), plan
    else:  # SQLite searches an index on the state; it never scans the table
        assert any("USING INDEX ix_deliveries_" in d for d in plan), plan
        assert "SCAN deliveries" not in plan, plan
