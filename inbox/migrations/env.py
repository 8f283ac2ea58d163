"""Alembic environment: runs on the connection handed in by ``sportello.inbox.db.migrate``."""

from alembic import context
from sqlmodel import SQLModel

import sportello.inbox.tables  # noqa: F401  (registers every table on the metadata)
from sportello.inbox.search import include_name

target_metadata = SQLModel.metadata
connection = context.config.attributes.get("connection")
if connection is None:  # `alembic` run by hand: use SPORTELLO settings
    from sportello.config import load_settings
    from sportello.inbox.db import make_engine

    connection = make_engine(load_settings().database.url).connect()

context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_name=include_name,  # full-text search objects are not in the tables
)
with context.begin_transaction():
    context.run_migrations()
