"""Generated inbox databases for the benchmarks, built once per size and cached.

For ``messages`` = N: N/10 customers and N/5 conversations over the last :data:`SPAN`, made
by :func:`datagen.generate`: a year, so that at 1M messages the inbox has the traffic of a
busy desk (about 550 conversations and 2,700 messages a day), and a 30-day report covers a
twelfth of the history rather than half of it. SQLite files live in ``var/bench/``;
PostgreSQL datasets in a schema ``inbox_<N>`` of the bench database, tagged so a stale one
is rebuilt.

``python bench/cached_data.py 100000 [--postgres]`` builds (or reuses) one and prints where;
``--unanalyzed`` builds a PostgreSQL one afresh that nothing has analyzed.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import VAR
from datagen import generate as generate_inbox
from pgschema import reset_schema, schema_comment, schema_url, set_schema_comment
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from sportello.inbox.db import make_engine, migrate
from sportello.inbox.metrics import timeline_store

VERSION = 7  # 7: replies name the agent who sent them (sent_by)
SPAN = timedelta(days=365)


def generate(engine: Engine, messages: int, *, settle: bool = True) -> dict[str, int]:
    """A dataset of ``messages`` messages, ending now, in an empty migrated database."""
    made = generate_inbox(
        engine,
        customers=max(1, messages // 10),
        conversations=max(1, messages // 5),
        messages=max(1, messages),
        now=datetime.now(UTC).replace(microsecond=0),
        span=SPAN,
        batch=10_000,
    )
    if settle:
        _settle(engine)
    return {
        "customers": made.customers,
        "identities": made.identities,
        "conversations": made.conversations,
        "messages": made.messages,
    }


OWN_TABLES = "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = current_schema()"


def _settle(engine: Engine) -> None:
    """Leave a freshly loaded database as a long-running one would be.

    Planner statistics and (PostgreSQL) the visibility map, as autovacuum would leave them:
    without them a freshly loaded table answers index-only scans from the heap. Then, on
    PostgreSQL, a checkpoint: the load's WAL (about 500 MB at 1M messages) would otherwise
    start one in the middle of the first measurements (seen: a 2.4 s stall of the daemon's
    journal commits). Only the dataset's own tables: a bare ``VACUUM`` would also process
    every other dataset in the bench database (and give statistics to one kept without).
    """
    postgres = engine.dialect.name == "postgresql"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if not postgres:
            connection.execute(text("ANALYZE"))
        else:
            tables = connection.execute(text(OWN_TABLES)).scalars()
            connection.execute(text(f"VACUUM ANALYZE {', '.join(tables)}"))
            try:
                connection.execute(text("CHECKPOINT"))
            except DBAPIError as exc:  # needs superuser or pg_checkpoint
                print(f"no checkpoint after the load ({exc.orig}); early figures may be noisy")


def _tag(messages: int) -> str:
    return f"sportello-bench-datagen v{VERSION} messages={messages}"


def sqlite_dataset(messages: int) -> str:
    """A cached SQLite file with ``messages`` messages (built on first use); its URL."""
    path = VAR / f"inbox-v{VERSION}-{messages}.db"
    if not path.exists():
        building = path.with_suffix(".building")
        for stale in VAR.glob(building.name + "*"):
            stale.unlink()
        started = time.monotonic()
        counts = _built(f"sqlite:///{building}", messages)
        building.rename(path)
        print(f"generated {counts} in {time.monotonic() - started:.1f}s -> {path}")
    return _migrated(f"sqlite:///{path}")


def postgres_dataset(base_url: str, messages: int) -> str:
    """A cached schema ``inbox_<messages>`` of the bench database; a URL that uses it."""
    schema = f"inbox_{messages}"
    if schema_comment(base_url, schema) != _tag(messages):
        started = time.monotonic()
        counts = _built(reset_schema(base_url, schema), messages)
        set_schema_comment(base_url, schema, _tag(messages))
        print(f"generated {counts} in {time.monotonic() - started:.1f}s -> {schema}")
    return _migrated(schema_url(base_url, schema))


def unanalyzed_postgres_dataset(base_url: str, messages: int) -> str:
    """A schema ``unanalyzed_<messages>`` built afresh and never vacuumed nor analyzed, as on
    a server whose autovacuum is off; a URL that uses it. Not cached: a daemon started on it
    analyzes it (the ``statistics:analyze`` job)."""
    return scratch_postgres_dataset(base_url, messages, f"unanalyzed_{messages}", analyzed=False)


def scratch_postgres_dataset(
    base_url: str, messages: int, schema: str, *, analyzed: bool = True
) -> str:
    """A schema built afresh, for a benchmark that writes to it; a URL that uses it."""
    started = time.monotonic()
    url = reset_schema(base_url, schema)
    counts = _built(url, messages, settle=analyzed)
    print(f"generated {counts} in {time.monotonic() - started:.1f}s -> {schema}")
    return _migrated(url, settle=analyzed)


def _built(url: str, messages: int, *, settle: bool = True) -> dict[str, int]:
    """Migrate the empty database at ``url`` and generate ``messages`` messages into it."""
    engine = make_engine(url)
    migrate(engine)
    counts = generate(engine, messages, settle=settle)
    engine.dispose()
    return counts


def _migrated(url: str, *, settle: bool = True) -> str:
    """``url`` after applying the migrations newer than the cached dataset (the data stays),
    with every stored KPI timeline current, as the daemon's job keeps them."""
    engine = make_engine(url)
    migrate(engine)
    started = time.monotonic()
    rebuilt = timeline_store.refresh_all(engine, budget_s=math.inf)
    if rebuilt and settle:
        _settle(engine)
        print(f"rebuilt {rebuilt} stored timelines in {time.monotonic() - started:.1f}s")
    engine.dispose()
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("messages", type=int)
    parser.add_argument("--postgres", action="store_true", help="build in the bench database")
    parser.add_argument(
        "--unanalyzed", action="store_true", help="PostgreSQL, afresh, with no statistics"
    )
    args = parser.parse_args()
    if args.postgres or args.unanalyzed:
        from common import postgres_url

        base = postgres_url()
        if base is None:
            raise SystemExit("PostgreSQL does not answer")
        if args.unanalyzed:
            print(unanalyzed_postgres_dataset(base, args.messages))
        else:
            print(postgres_dataset(base, args.messages))
    else:
        print(sqlite_dataset(args.messages))


if __name__ == "__main__":
    main()
