"""Planner statistics for the daemon's tables where PostgreSQL's autovacuum does not keep them.

PostgreSQL plans every query from the per-column statistics that ``ANALYZE`` gathers, and
autovacuum runs it on a table once a tenth of the table has changed. With autovacuum off (for
the server, or for a table) nothing does: a grown inbox is then planned as if no column told
rows apart, and reading a page of conversations, a customer or a timeline turns from a few
index probes into sequential scans that grow with the inbox (docs/benchmarks.md, session 24).
There the daemon analyzes its own tables when they have changed as much as autovacuum's
default thresholds would wait for. ``VACUUM`` stays the operator's: it is heavy and needs no
statistics to be right.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text

log = logging.getLogger(__name__)

# autovacuum_analyze_threshold and autovacuum_analyze_scale_factor, as PostgreSQL ships them
THRESHOLD_ROWS = 50
SCALE_FACTOR = 0.1

_TABLES = text(
    """
    SELECT quote_ident(c.relname) AS name,
           (SELECT option_value::boolean FROM pg_options_to_table(c.reloptions)
            WHERE option_name = 'autovacuum_enabled') AS autovacuum,
           c.reltuples AS rows, s.n_mod_since_analyze AS changed
    FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid
    WHERE s.schemaname = current_schema() AND pg_has_role(c.relowner, 'USAGE')
    ORDER BY c.relname
    """
)


@dataclass(frozen=True)
class TableState:
    name: str  # quoted, ready for SQL
    autovacuum: bool | None  # the table's own autovacuum_enabled, if it sets one
    rows: float  # pg_class.reltuples: -1 before the first ANALYZE or VACUUM
    changed: int  # rows inserted, updated or deleted since the last ANALYZE

    def needs_analyze(self, server_autovacuum: bool) -> bool:
        """What autovacuum would analyze, where autovacuum does not run."""
        autovacuum = server_autovacuum if self.autovacuum is None else self.autovacuum
        if autovacuum:
            return False
        return self.changed > THRESHOLD_ROWS + SCALE_FACTOR * max(self.rows, 0.0)


def analyze_stale(engine: Engine) -> list[str]:
    """``ANALYZE`` the tables that autovacuum leaves alone and that have changed enough since
    their last one; returns their names. Only tables the daemon's role owns (PostgreSQL
    would skip the others with a warning, and they would look stale at every run). Nothing
    to do on SQLite, whose planner does as well without (docs/benchmarks.md, session 24)."""
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        on = server_autovacuum(connection)
        stale = [table.name for table in tables(connection) if table.needs_analyze(on)]
        for name in stale:  # each in its own transaction: its lock is held only meanwhile
            connection.execute(text(f"ANALYZE {name}"))
    if stale:
        log.info("analyzed %s: autovacuum does not keep their statistics", ", ".join(stale))
    return stale


def server_autovacuum(connection: Connection) -> bool:
    return bool(connection.execute(text("SELECT current_setting('autovacuum') = 'on'")).scalar())


def tables(connection: Connection) -> list[TableState]:
    return [
        TableState(row.name, row.autovacuum, row.rows, row.changed)
        for row in connection.execute(_TABLES)
    ]
