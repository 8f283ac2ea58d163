"""Import every module that defines tables, so the metadata (and Alembic) sees them all."""

from sportello.inbox import automation_tables, models  # noqa: F401
