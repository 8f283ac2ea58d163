"""the pending deliveries in an index of their own: the journal worker's queue

With statistics taken during a backlog (a tenth or more of the journal pending), PostgreSQL
claimed the oldest pending deliveries by walking the primary key from the first delivery ever
and filtering out every processed one (55 ms a batch at 100k deliveries, growing with the
retention); the (state, id) index looked dearer because its rows lie scattered in the table.
This index holds the pending ones only, in id order.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("state = 'pending'")


def upgrade() -> None:
    op.create_index(
        "ix_deliveries_pending",
        "deliveries",
        ["id"],
        postgresql_where=PENDING,
        sqlite_where=PENDING,
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_pending", "deliveries")
