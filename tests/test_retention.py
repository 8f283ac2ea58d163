"""The journal's retention keeps up with the journal, and reads only what it trims.

It used to trim 1,000 deliveries an hour at most, and to find them by walking the journal in
id order past every delivery trimmed before (docs/benchmarks.md, session 24).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from automation_helpers import migrated
from conftest import make_settings
from plan_helpers import explain, scans_of, statements_run
from sqlalchemy import Engine, insert, text
from sqlmodel import Session, col, func, select

from sportello.config.settings import RetentionSettings
from sportello.daemon import Daemon
from sportello.inbox import housekeeping, journal
from sportello.inbox.clock import FrozenClock
from sportello.inbox.models import Delivery
from sportello.scheduler import periodic_jobs, run_job

# These tests read the planner's statistics: a schema of their own.
pytestmark = pytest.mark.rebuilt_schema

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
MONTH = RetentionSettings(deliveries_after="30d")


def _deliveries(engine: Engine, count: int, age_days: float, *, body: bytes = b"{}") -> None:
    at = NOW - timedelta(days=age_days)
    with engine.begin() as connection:
        first = connection.execute(select(func.count()).select_from(Delivery)).scalar_one()
        connection.execute(
            insert(Delivery),
            [
                {
                    **journal.delivery_row("telegram", body, at, {}, f"update:{first + n}"),
                    "state": journal.PROCESSED,
                    "processed_at": at,
                }
                for n in range(count)
            ],
        )


def _with_body(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(
            select(func.count()).select_from(Delivery).where(col(Delivery.body) != b"")
        ).one()


def _trim(session: Session) -> int:
    return housekeeping.trim_deliveries(session, NOW, MONTH)


def test_a_backlog_is_trimmed_in_one_run(engine: Engine) -> None:
    _deliveries(engine, 2 * housekeeping.BATCH + 500, age_days=40)
    _deliveries(engine, 300, age_days=5)
    assert housekeeping.trim_in_batches(engine, _trim) == 2 * housekeeping.BATCH + 500
    assert _with_body(engine) == 300  # the young ones keep theirs
    assert housekeeping.trim_in_batches(engine, _trim) == 0


def test_a_run_stops_at_its_budget(engine: Engine) -> None:
    _deliveries(engine, 2 * housekeeping.BATCH, age_days=40)
    pauses: list[int] = []
    trimmed = housekeeping.trim_in_batches(
        engine, _trim, budget_s=0.0, pause=lambda: pauses.append(1)
    )
    assert (trimmed, len(pauses)) == (housekeeping.BATCH, 1)  # one batch, then the next run


def _trim_explained(engine: Engine) -> tuple[int, Any]:
    """One ``trim_deliveries``, and the plan of its search (``explain``) as it found them."""
    with Session(engine) as session:
        with statements_run(engine, "SELECT id FROM deliveries") as executed:
            trimmed = housekeeping.trim_deliveries(session, NOW, MONTH)
        [(statement, params)] = executed
        session.rollback()
        plan = explain(session, statement, params)
        session.rollback()
    return trimmed, plan


@pytest.mark.parametrize("analyze", [True, False], ids=["analyzed", "no-statistics"])
def test_the_search_reads_none_of_the_deliveries_trimmed_before(
    engine: Engine, analyze: bool
) -> None:
    _deliveries(engine, 3_000, age_days=60, body=b"")  # trimmed months ago
    _deliveries(engine, 200, age_days=40)
    _deliveries(engine, 1_000, age_days=5)
    if analyze:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE deliveries"))
    trimmed, plan = _trim_explained(engine)
    assert trimmed == 200
    if engine.dialect.name == "postgresql":
        [scan] = scans_of(plan["Plan"], "deliveries")
        index = scan.get("Index Name") or scan["Plans"][0]["Index Name"]
        assert index == "ix_deliveries_untrimmed", plan
        assert scan.get("Rows Removed by Filter", 0) == 0, plan
        assert scan["Actual Rows"] == 200, plan
    else:
        assert any("USING INDEX ix_deliveries_untrimmed" in d for d in plan), plan


def test_the_hourly_job_trims_the_whole_backlog(database_url: str) -> None:
    daemon = Daemon(make_settings(database_url), clock=FrozenClock(NOW))
    engine = migrated(database_url)
    _deliveries(engine, housekeeping.BATCH + 10, age_days=40)
    job = next(j for j in periodic_jobs(daemon) if j.name == "retention:deliveries")
    assert asyncio.run(run_job(daemon, job))
    assert _with_body(engine) == 0
    engine.dispose()
    daemon.engine.dispose()
