"""Where autovacuum is off, the daemon analyzes its own tables once they have changed enough.

Without statistics PostgreSQL planned a page of the inbox, a customer and a timeline as
sequential scans that grow with the inbox (docs/benchmarks.md, session 24).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from automation_helpers import migrated
from conftest import make_settings, wait_for
from sqlalchemy import Engine, create_engine, insert, text

from sportello.daemon import Daemon
from sportello.inbox.clock import FrozenClock
from sportello.inbox.models import Customer, Identity
from sportello.inbox.planner_statistics import TableState, analyze_stale
from sportello.scheduler import periodic_jobs, run_job

# These tests read the planner's statistics: a schema of their own.
pytestmark = pytest.mark.rebuilt_schema

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("server", "table", "changed", "rows", "expected"),
    [
        (False, None, 51, -1, True),  # never analyzed: autovacuum's 50-row threshold
        (False, None, 50, -1, False),
        (False, None, 1_050, 10_000, False),  # 50 rows and a tenth of the table
        (False, None, 1_051, 10_000, True),
        (False, True, 1_000_000, 10_000, False),  # the table's own autovacuum analyzes it
        (True, None, 1_000_000, 10_000, False),  # so does the server's
        (True, False, 1_051, 10_000, True),  # unless the table switched it off
    ],
)
def test_what_autovacuum_would_analyze(
    server: bool, table: bool | None, changed: int, rows: int, expected: bool
) -> None:
    state = TableState('"t"', table, rows, changed)
    assert state.needs_analyze(server) is expected


def _customers(engine: Engine, count: int, first: int) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(Customer),
            [{"display_name": f"c{n}", "created_at": NOW} for n in range(first, first + count)],
        )


def _analyzed_columns(engine: Engine, table: str) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                text(
                    "SELECT count(*) FROM pg_stats "
                    "WHERE schemaname = current_schema() AND tablename = :table"
                ),
                {"table": table},
            ).scalar_one()
        )


def test_tables_without_autovacuum_are_analyzed_once_changed_enough(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        assert analyze_stale(engine) == []  # SQLite plans without statistics
        return
    with engine.begin() as connection:  # whatever the server's own setting
        connection.execute(text("ALTER TABLE customers SET (autovacuum_enabled = off)"))
        connection.execute(text("ALTER TABLE identities SET (autovacuum_enabled = true)"))
    _customers(engine, 200, first=0)
    with engine.begin() as connection:
        connection.execute(
            insert(Identity),
            [
                {"customer_id": n, "channel": "telegram", "external_id": str(n), "created_at": NOW}
                for n in range(1, 201)
            ],
        )
    assert _analyzed_columns(engine, "customers") == 0

    # The counters reach pg_stat_user_tables within a second or so of the commit.
    wait_for(lambda: "customers" in analyze_stale(engine), timeout=15, interval=0.2)
    assert _analyzed_columns(engine, "customers") > 0
    assert "customers" not in analyze_stale(engine)  # nothing changed since
    assert _analyzed_columns(engine, "identities") == 0  # autovacuum's, not ours

    _customers(engine, 60, first=200)  # under 50 + 200 / 10
    wait_for(lambda: _changed(engine, "customers") == 60, timeout=15, interval=0.2)
    assert "customers" not in analyze_stale(engine)
    _customers(engine, 11, first=260)
    wait_for(lambda: "customers" in analyze_stale(engine), timeout=15, interval=0.2)


def _changed(engine: Engine, table: str) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                text("SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relname = :t"),
                {"t": table},
            ).scalar_one()
        )


def test_the_daemon_runs_it_as_a_periodic_job(database_url: str) -> None:
    daemon = Daemon(make_settings(database_url), clock=FrozenClock(NOW))
    engine = migrated(database_url)
    job = next(j for j in periodic_jobs(daemon) if j.name == "statistics:analyze")
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE customers SET (autovacuum_enabled = off)"))
        _customers(engine, 100, first=0)
        wait_for(lambda: _changed(engine, "customers") == 100, timeout=15, interval=0.2)
    assert asyncio.run(run_job(daemon, job))
    if engine.dialect.name == "postgresql":
        assert _analyzed_columns(engine, "customers") > 0
    engine.dispose()
    daemon.engine.dispose()


def test_only_tables_the_role_owns(engine: Engine) -> None:
    """ANALYZE skips another role's table with a mere warning: it would look stale forever."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    with engine.begin() as connection:
        if not connection.execute(
            text("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user")
        ).scalar():
            pytest.skip("the test database's role cannot create roles")
        connection.execute(
            text(
                "DO $$ BEGIN CREATE ROLE sportello_test_analyst LOGIN; "
                "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
            )
        )
        connection.execute(text("GRANT USAGE, CREATE ON SCHEMA public TO sportello_test_analyst"))
        connection.execute(text("ALTER TABLE customers SET (autovacuum_enabled = off)"))
        connection.execute(
            text("CREATE TABLE analyst_rows (n int) WITH (autovacuum_enabled = off)")
        )
        connection.execute(text("ALTER TABLE analyst_rows OWNER TO sportello_test_analyst"))
        connection.execute(text("INSERT INTO analyst_rows SELECT generate_series(1, 100)"))
    _customers(engine, 100, first=0)
    analyst = create_engine(engine.url.set(username="sportello_test_analyst"))
    try:
        wait_for(lambda: _changed(engine, "customers") == 100, timeout=15, interval=0.2)
        wait_for(lambda: "analyst_rows" in analyze_stale(analyst), timeout=15, interval=0.2)
        assert "customers" not in analyze_stale(analyst)  # the migrating role's, left alone
        assert _changed(engine, "customers") == 100
    finally:
        analyst.dispose()
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE analyst_rows"))
            connection.execute(text("REVOKE ALL ON SCHEMA public FROM sportello_test_analyst"))
            connection.execute(text("DROP ROLE sportello_test_analyst"))
