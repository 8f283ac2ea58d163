"""Import every module that defines tables, so the metadata (and Alembic) sees them all."""

from sportello.inbox import (
    models,  # noqa: F401
    survey_tables,  # noqa: F401
)
