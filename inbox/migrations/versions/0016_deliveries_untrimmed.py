"""the retention job's own indexes: the processed deliveries that still have a body, by
when they were processed, and those it left without one

The job looked for old processed deliveries with a body by walking the journal in id order
past every delivery it had already trimmed (104 ms at 100k deliveries, growing with the
journal), and trimmed 1,000 an hour at most. With these indexes it reads only what it trims,
and with ``deliveries_action = "delete"`` finds the rows an earlier ``drop_body`` emptied.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 20:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNTRIMMED = sa.text("state = 'processed' AND length(body) > 0")
TRIMMED = sa.text("state = 'processed' AND length(body) = 0")


def upgrade() -> None:
    op.create_index(
        "ix_deliveries_untrimmed",
        "deliveries",
        ["processed_at"],
        postgresql_where=UNTRIMMED,
        sqlite_where=UNTRIMMED,
    )
    op.create_index(
        "ix_deliveries_trimmed",
        "deliveries",
        ["id"],
        postgresql_where=TRIMMED,
        sqlite_where=TRIMMED,
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_trimmed", "deliveries")
    op.drop_index("ix_deliveries_untrimmed", "deliveries")
