"""macros: a snooze step

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("macros", sa.Column("snooze_for", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("macros") as table:
        table.drop_column("snooze_for")
