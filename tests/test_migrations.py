"""The migrations build exactly the schema the tables describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import sportello.inbox.tables  # noqa: F401
from sportello.inbox.db import make_engine, migrate
from sportello.inbox.search import include_name


def test_migrations_match_the_tables(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    migrate(engine)  # a second start changes nothing
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": include_name}
        )
        diff = compare_metadata(context, SQLModel.metadata)
    engine.dispose()
    assert diff == [], f"tables and migrations differ; run `make migration MSG=...`: {diff}"
